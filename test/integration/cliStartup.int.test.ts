import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { BIN } from './cli.js'

// Packages that take a second or more of CPU to load (Helia and libp2p, the Kubo client, PDF,
// Medplum, solc, the databases). Only the commands that use them may load them: every CLI call
// would pay for them otherwise (docs/tests.md, "How the suite is organised for speed").
const HEAVY = /\/node_modules\/(helia|@helia\/|libp2p|@libp2p\/|kubo-rpc-client|ipfs-unixfs-|pdfkit|@medplum\/|solc|better-sqlite3|pg)\//

/** The module files the built CLI loads to run `args` (no command here needs a home). */
function modulesLoaded(args: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-startup-'))
  try {
    const log = join(dir, 'loaded.txt')
    const hook = `import { appendFileSync } from 'node:fs'; export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context) }`
    const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)})`
    const child = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, MEDVAULT_HOME: join(dir, 'home') },
    })
    assert.equal(child.status, 0, child.stderr)
    assert.match(child.stdout, /Usage: medvault/)
    return readFileSync(log, 'utf8').split('\n').filter(Boolean)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('CLI start-up', () => {
  it('loads no heavy package for help, which loads every command module', () => {
    const loaded = modulesLoaded(['--help'])
    assert.ok(
      loaded.some((url) => /\/cli-bundle\/record-\w+\.js$/.test(url)),
      'help loads the command modules',
    )
    assert.deepEqual(
      loaded.filter((url) => HEAVY.test(url)),
      [],
    )
  })

  it('loads no heavy package for one command group', () => {
    for (const group of ['record', 'account', 'grant', 'backup']) {
      assert.deepEqual(
        modulesLoaded([group, '--help']).filter((url) => HEAVY.test(url)),
        [],
        group,
      )
    }
  })
})
