/**
 * A patient's first hour in the portal (issue 21), end to end in Debian's chromium against a real
 * server on a real chain: the activity page counts only attempts on the patient's own records.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { build } from 'vite'
import { createAccount } from '../../src/home/createAccount.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack } from '../integration/stack.js'
import { sessionToken } from '../integration/server.js'
import { launchChromium } from './fixtures.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const OWN = { alice: 'alice-own-passphrase', cardio: 'cardio-own-passphrase' }

type Tab = { context: BrowserContext; page: Page; errors: string[]; expectRefusals: boolean }

describe("a patient's first hour in the portal", () => {
  let s: TestStack
  let server: MedvaultServer
  let browser: Browser
  let webRoot: string
  const tabs: Tab[] = []
  const a = (name: string) => s.accounts[name]!

  before(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'medvault-web-'))
    await build({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } })
    s = await openTestStack({ providers: { lab: 'City Lab' } })
    for (const [name, passphrase] of Object.entries(OWN)) {
      await createAccount(s.mv, name, passphrase)
      s.accounts[name] = await s.mv.keystore.unlock(name, passphrase)
    }
    await issueExample(s, 'glucose.json', 'lab', 'alice')
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, webRoot })
    browser = await launchChromium()
  })

  after(async () => {
    for (const tab of tabs) await tab.context.close()
    await browser?.close()
    await server?.close()
    await s?.dispose()
    rmSync(webRoot, { recursive: true, force: true })
  })

  async function newTab(): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [], expectRefusals: false }
    page.on('console', (m) => {
      if (m.type() !== 'error') return
      if (tab.expectRefusals && /status of 403/.test(m.text())) return
      tab.errors.push(m.text())
    })
    page.on('pageerror', (e) => tab.errors.push(e.message))
    tabs.push(tab)
    await page.goto(server.url)
    return tab
  }

  /** Signs in by importing a CLI keystore file. */
  async function signInWithFile(who: string, passphrase: string): Promise<Tab> {
    const tab = await newTab()
    const { page } = tab
    await page.getByLabel('Account file').setInputFiles(join(s.home, 'accounts', `${who}.json`))
    await page.getByLabel('Passphrase').fill(passphrase)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 })
    return tab
  }

  async function go(tab: Tab, path: string) {
    await tab.page.evaluate((p) => {
      const w = globalThis as any // the browser's window
      w.history.pushState(null, '', p)
      w.dispatchEvent(new w.PopStateEvent('popstate'))
    }, path)
  }

  it('counts on the activity page only the refused attempts on her own records', async () => {
    // Alice asks twice for someone else's record: refused, and logged with her as the actor.
    const token = await sessionToken(server.url, a('alice').chainAccount)
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/fhir/Patient/0x000000000000000000000000000000000000dEaD`, {
        headers: { authorization: `Bearer ${token}` },
      })
      await res.arrayBuffer()
      assert.equal(res.ok, false)
    }
    // The cardiologist is refused one of hers.
    const cardio = await sessionToken(server.url, a('cardio').chainAccount)
    const refused = await fetch(`${server.url}/api/records/1`, { headers: { authorization: `Bearer ${cardio}` } })
    await refused.arrayBuffer()
    assert.equal(refused.status, 403)

    const alice = await signInWithFile('alice', OWN.alice)
    await go(alice, '/activity')
    await alice.page.locator('table.activity').waitFor()
    const banner = alice.page.locator('.message-warn', { hasText: 'refused' })
    assert.match((await banner.textContent()) ?? '', /^1 refused attempt to reach your records/)
    assert.equal(await alice.page.locator('tr.denied').count(), 1)
    assert.deepEqual(alice.errors, [])
  })
})
