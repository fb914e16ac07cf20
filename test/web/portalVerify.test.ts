/**
 * The verifier's page and the emergency-access flow, end to end in headless Chromium against a
 * real server and chain: a health card pasted without an account is valid, the same card altered
 * is not (and the page says why); an emergency provider breaks the glass in the browser (the
 * transaction signed there), reads a non-sensitive record and not the sensitive one, and the
 * patient sees the emergency access on her activity page. Screenshots go to docs/screenshots/.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { build } from 'vite'
import { proveClaim } from '../../src/claims/index.js'
import { setEmergencyProvider } from '../../src/consent/grants.js'
import { registerProvider } from '../../src/directory/index.js'
import { createAccount } from '../../src/home/createAccount.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { ensureHealthCardKey, healthCardFile, issueHealthCard, medvaultIssuerUrl, toQrNumeric } from '../../src/shc/index.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack, registrar } from '../integration/stack.js'
import { cardBundle, checkAccessible as checkPageAccessible, launchChromium, tamperCard } from './fixtures.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SHOTS = join(ROOT, 'docs', 'screenshots')
const OWN = { alice: 'alice-own-passphrase', er: 'er-own-passphrase' }

type Tab = { context: BrowserContext; page: Page; errors: string[] }

describe('the verifier page and emergency access in chromium', () => {
  let s: TestStack
  let server: MedvaultServer
  let browser: Browser
  let webRoot: string
  let jws: string
  const tabs: Record<string, Tab> = {}
  const tokens: Record<string, string> = {}
  const a = (name: string) => s.accounts[name]!

  before(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'medvault-web-'))
    await build({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } })

    s = await openTestStack({ providers: { lab: 'City Lab' }, others: ['insurer'] })
    // The patient and the emergency department keep their own keys, in their browsers.
    for (const [name, passphrase] of Object.entries(OWN)) {
      await createAccount(s.mv, name, passphrase)
      s.accounts[name] = await s.mv.keystore.unlock(name, passphrase)
    }
    await registerProvider(s.mv, registrar, { provider: a('er').address, name: 'City ER', encryptionKey: a('er').encryptionPublicKey })
    await setEmergencyProvider(s.mv, { registrar, provider: a('er').address, allowed: true })
    tokens.glucose = (await issueExample(s, 'glucose.json', 'lab', 'alice')).toString()
    tokens.therapy = (await issueExample(s, 'therapy-note.json', 'lab', 'alice')).toString()

    const key = await ensureHealthCardKey(s.mv, a('lab'))
    const iss = medvaultIssuerUrl(s.mv.config.healthCards.issuerBaseUrl, a('lab').address)
    jws = (await issueHealthCard({ bundle: cardBundle, issuerUrl: iss, privateJwk: key.privateJwk })).jws
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, webRoot })

    mkdirSync(SHOTS, { recursive: true })
    browser = await launchChromium()
  })

  after(async () => {
    for (const tab of Object.values(tabs)) await tab.context.close()
    await browser?.close()
    await server?.close()
    await s?.dispose()
    rmSync(webRoot, { recursive: true, force: true })
  })

  async function newTab(who: string): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [] }
    page.on('console', (m) => {
      if (m.type() === 'error') tab.errors.push(m.text())
    })
    page.on('pageerror', (e) => tab.errors.push(e.message))
    tabs[who] = tab
    return tab
  }

  async function signIn(who: string, passphrase: string): Promise<Tab> {
    const tab = await newTab(who)
    const { page } = tab
    await page.goto(server.url)
    await page.getByLabel('Account file').setInputFiles(join(s.home, 'accounts', `${who}.json`))
    await page.getByText(`Account “${who}” found.`).waitFor()
    await page.getByLabel('Passphrase').fill(passphrase)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 })
    return tab
  }

  async function shot(tab: Tab, name: string) {
    await tab.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
  }

  const checkAccessible = (tab: Tab) => checkPageAccessible(tab.page)

  it('verifies a health card for someone without an account: valid, with what it says', async () => {
    const tab = await newTab('verifier')
    const { page } = tab
    await page.goto(server.url)
    await page.getByRole('link', { name: /Verify it here/ }).click()
    await page.getByRole('heading', { name: 'Verify a health card or proof' }).waitFor()
    await page.getByLabel('The health card').fill(toQrNumeric(jws))
    await checkAccessible(tab)
    await page.getByRole('button', { name: 'Check' }).click()
    const verdict = page.locator('.verdict')
    await verdict.waitFor()
    assert.match((await verdict.textContent()) ?? '', /^✓ Valid.*issued by City Lab/)
    const says = (await page.getByRole('region', { name: 'What the card says' }).textContent()) ?? ''
    assert.match(says, /Alice Example/)
    assert.match(says, /COVID-19/)
    assert.match(says, /EW0150/)
    await page.getByText('The issuer has not withdrawn it.').waitFor()
    await checkAccessible(tab)
    await shot(tab, 'verify-valid')

    // The same card as a .smart-health-card file.
    const dir = mkdtempSync(join(tmpdir(), 'medvault-card-'))
    const file = join(dir, 'alice.smart-health-card')
    writeFileSync(file, JSON.stringify(healthCardFile([jws])))
    await page.getByLabel('Or choose a file').setInputFiles(file)
    await page.getByRole('button', { name: 'Check' }).click()
    await page.locator('.verdict-ok').waitFor()
    rmSync(dir, { recursive: true, force: true })
    assert.deepEqual(tab.errors, [])
  })

  it('finds a tampered health card invalid and says why', async () => {
    const tab = tabs.verifier!
    const { page } = tab
    await page.getByLabel('The health card').fill(tamperCard(jws))
    await page.getByRole('button', { name: 'Check' }).click()
    const verdict = page.locator('.verdict-bad')
    await verdict.waitFor()
    assert.match((await verdict.textContent()) ?? '', /Not valid.*digital signature does not match/)
    await page
      .locator('.check-list li.bad')
      .getByText(/was changed after it was issued/)
      .waitFor()
    assert.equal(await page.getByRole('heading', { name: 'What the card says' }).count(), 0)
    await shot(tab, 'verify-invalid')
    assert.deepEqual(tab.errors, [])
  })

  it('verifies a proof of treatment for the insurer it names, and shows only the disclosed facts', async () => {
    const tab = tabs.verifier!
    const { page } = tab
    const presentation = await proveClaim(s.mv, {
      patient: a('alice'),
      tokenIds: [BigInt(tokens.glucose!)],
      fields: ['/code/coding/0/code', '/effectiveDateTime'],
      audience: a('insurer').address,
    })
    await page.getByLabel('A proof of treatment (for an insurer)').check()
    await page.getByLabel('The proof of treatment').fill(JSON.stringify(presentation, null, 2))
    await checkAccessible(tab)
    await page.getByRole('button', { name: 'Check' }).click()
    await page.locator('.verdict-ok').waitFor()
    const result = (await page.getByRole('region', { name: 'Result' }).textContent()) ?? ''
    assert.match(result, /issued by City Lab/)
    assert.match(result, /2345-7/)
    assert.ok(!result.includes('112'), 'an undisclosed value is not shown')
    await shot(tab, 'verify-claim')
    assert.deepEqual(tab.errors, [])
  })

  it('lets an emergency provider break the glass in the browser and read a non-sensitive record, not a sensitive one', async () => {
    const tab = await signIn('er', OWN.er)
    const { page } = tab
    await page.getByRole('link', { name: 'Emergency access' }).click()
    await page.getByRole('heading', { name: 'Break the glass only in a real emergency' }).waitFor()
    await page.getByLabel('Patient account').fill(a('alice').address)
    await page.getByLabel('The patient is unconscious or unresponsive').check()
    await page.getByLabel('What happened').fill('Brought in unconscious after a road accident')
    await page.getByLabel(/This is an emergency/).check()
    await checkAccessible(tab)
    await shot(tab, 'emergency')
    await page.getByRole('button', { name: 'Open emergency access' }).click()
    await page.getByText(/Emergency access to patient .* is open until/).waitFor({ timeout: 60_000 })
    const glucose = page.locator('.timeline > li', { hasText: 'Glucose' })
    await glucose.locator('.badge-ok').waitFor({ timeout: 60_000 })
    assert.equal(await page.locator('.timeline > li').count(), 1, 'the psychiatric note is not listed')
    await checkAccessible(tab)
    await shot(tab, 'emergency-records')
    await glucose.getByRole('link', { name: 'Glucose' }).click()
    await page.getByText('✓ Verified').waitFor({ timeout: 60_000 })
    assert.match((await page.locator('table.results').textContent()) ?? '', /112 mg\/dL/)
    assert.deepEqual(tab.errors, [])
  })

  it('shows the patient the emergency access on her activity page', async () => {
    const tab = await signIn('alice', OWN.alice)
    const { page } = tab
    await page.getByRole('link', { name: 'Activity' }).click()
    const windows = page.locator('section', { has: page.getByRole('heading', { name: 'Emergency access to your records' }) })
    await windows.waitFor()
    assert.match((await windows.textContent()) ?? '', /City ER opened emergency access to your records on .*open until/)
    const row = page.locator('tr.emergency', { hasText: 'City ER' }).filter({ hasText: 'used emergency access to' })
    await row.first().waitFor()
    assert.match((await row.first().textContent()) ?? '', /Emergency/)
    assert.ok((await page.locator('tr.emergency', { hasText: 'City ER' }).filter({ hasText: 'opened your lab result' }).count()) >= 1)
    await checkAccessible(tab)
    await shot(tab, 'activity-emergency')
    assert.deepEqual(tab.errors, [])
  })
})
