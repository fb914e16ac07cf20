/**
 * A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, pg_ctl start on a
 * free port (TCP on 127.0.0.1, socket in the directory), and stop + delete afterwards.
 *
 * PostgreSQL refuses to run as root; as root, the binaries run as the `postgres` OS user through
 * `runuser`, with the directory handed to that user.
 *
 * Binaries: $MEDVAULT_PG_BIN (only there, when set), else the newest /usr/lib/postgresql/<version>/bin (Debian and
 * Ubuntu's `apt-get install postgresql`), else `initdb` on the PATH. Missing binaries fail the
 * test with a message saying what to install, unless MEDVAULT_SKIP_POSTGRES=1.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../src/chain/ports.js'

export type TestPostgres = {
  /** postgres://medvault@127.0.0.1:PORT/medvault (trust authentication, no password). */
  url: string
  /** A URL for another, empty database in the same cluster. */
  createDatabase(name: string): string
  stop(): Promise<void>
}

export const skipPostgres = process.env.MEDVAULT_SKIP_POSTGRES === '1'

export const POSTGRES_MISSING =
  'PostgreSQL binaries (initdb, pg_ctl) were not found in $MEDVAULT_PG_BIN, /usr/lib/postgresql/*/bin or the PATH. ' +
  'Install PostgreSQL (e.g. `apt-get install postgresql`), or set MEDVAULT_SKIP_POSTGRES=1 to skip the PostgreSQL tests.'

/** The directory holding initdb and pg_ctl, or undefined. */
export function findPostgresBin(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))
  // An explicit choice is the only one looked at.
  if (process.env.MEDVAULT_PG_BIN) return has(process.env.MEDVAULT_PG_BIN) ? process.env.MEDVAULT_PG_BIN : undefined
  const candidates: string[] = []
  const debian = '/usr/lib/postgresql'
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
    candidates.push(...versions.map((v) => join(debian, v, 'bin')))
  }
  for (const dir of candidates) if (has(dir)) return dir
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' })
  const onPath = which.status === 0 ? which.stdout.trim() : ''
  return onPath ? join(onPath, '..') : undefined
}

/**
 * Starts a cluster. Throws (never skips) if PostgreSQL is not installed; check `skipPostgres`
 * first to honour MEDVAULT_SKIP_POSTGRES=1.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin()
  if (!bin) {
    throw new Error(POSTGRES_MISSING)
  }
  const dir = mkdtempSync(join(tmpdir(), 'medvault-pg-'))
  const data = join(dir, 'data')
  const log = join(dir, 'postgres.log')
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(dir, uid, gid)
  }
  const run = (tool: string, args: string[]) => {
    const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args]
    const result = spawnSync(command, argv as string[], { encoding: 'utf8', timeout: 60_000 })
    if (result.status !== 0) {
      const serverLog = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : ''
      throw new Error(`${tool} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}\n${serverLog}`)
    }
    return result.stdout
  }

  const port = await freePort()
  try {
    run('initdb', ['-D', data, '-U', 'medvault', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
    run('pg_ctl', [
      '-D',
      data,
      '-l',
      log,
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
      'start',
    ])
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }

  const psql = (sql: string) =>
    run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'medvault', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql])
  psql('CREATE DATABASE medvault')
  let stopped = false
  return {
    url: `postgres://medvault@127.0.0.1:${port}/medvault`,
    createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`Not a plain database name: ${name}`)
      psql(`CREATE DATABASE ${name}`)
      return `postgres://medvault@127.0.0.1:${port}/${name}`
    },
    async stop() {
      if (stopped) return
      stopped = true
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
