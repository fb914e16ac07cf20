/**
 * The browser finder: the npm-shipped Chromium unpacks offline, once, safely when two processes
 * start at the same moment, and drives a page through playwright-core.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { BrowserNotFoundError, findBrowser, launchBrowser } from './browser.js'

const BROWSER_TS = new URL('./browser.ts', import.meta.url).href

describe('the browser finder', () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('MEDVAULT_BROWSER=bundled ignores a system browser and launches the npm-shipped one', async () => {
    const found = findBrowser('bundled')
    assert.equal(found.source, 'bundled')
    assert.match(found.executablePath, /medvault-chromium-[\d.]+\/chromium$/)
    const browser = await launchBrowser(found)
    try {
      const page = await browser.newPage()
      await page.setContent('<main><h1>medvault</h1></main>')
      assert.equal(await page.textContent('h1'), 'medvault')
    } finally {
      await browser.close()
    }
  })

  it('a path that does not exist is refused, saying which', () => {
    assert.throws(
      () => findBrowser('/nonexistent/chromium'),
      (e: Error) => e instanceof BrowserNotFoundError && /no such file/.test(e.message),
    )
  })

  it('two processes unpacking into an empty temporary directory at once both get a whole browser', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'medvault-browser-race-'))
    dirs.push(tmp)
    const script = `const { findBrowser } = await import(${JSON.stringify(BROWSER_TS)}); process.stdout.write(findBrowser('bundled').executablePath)`
    const runOne = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          env: { ...process.env, TMPDIR: tmp },
        })
        let out = ''
        let err = ''
        child.stdout.on('data', (d) => {
          out += d
        })
        child.stderr.on('data', (d) => {
          err += d
        })
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))))
      })
    const [a, b] = await Promise.all([runOne(), runOne()])
    assert.equal(a, b)
    assert.equal(a, join(tmp, a.slice(tmp.length + 1)))
    // One finished copy, no staging directory left behind, and the executable is complete.
    assert.deepEqual(
      readdirSync(tmp).filter((f) => f.startsWith('medvault-chromium')),
      [a.split('/').at(-2)],
    )
    assert.ok(statSync(a).size > 100_000_000)
    const browser = await launchBrowser({ executablePath: a, source: 'bundled' })
    await browser.close()
  })
})
