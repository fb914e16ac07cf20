/**
 * The web portal end to end: headless Chromium (playwright-core) against a real server on a real
 * chain. Keys live in each browser (imported keystore files); records are decrypted there. Fails
 * on any browser console error other than the refusals a step expects. Screenshots of each page
 * go to docs/screenshots/.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { deflateSync } from 'node:zlib'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { build } from 'vite'
import { consentRegistryAbi } from '../../src/contracts/index.js'
import { authorizeProvider, registerProvider } from '../../src/directory/index.js'
import { createAccount } from '../../src/home/createAccount.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack, registrar } from '../integration/stack.js'
import { checkAccessible as assertAccessible, launchChromium, storedSecrets } from './fixtures.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SHOTS = join(ROOT, 'docs', 'screenshots')
const OWN = { alice: 'alice-own-passphrase', cardio: 'cardio-own-passphrase' }

/** A small valid PNG (240×160 greyscale). */
function tinyPng(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc32 = (bytes: Buffer) => {
    let c = 0xffffffff
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const out = Buffer.alloc(12 + data.length)
    out.writeUInt32BE(data.length, 0)
    body.copy(out, 4)
    out.writeUInt32BE(crc32(body), 8 + data.length)
    return out
  }
  const [width, height] = [240, 160]
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 0, 0, 0, 0], 8) // 8-bit greyscale
  // A bright oval on a dark field, like a scan.
  const rows = Array.from({ length: height }, (_, y) => {
    const row = Buffer.alloc(1 + width) // filter byte 0, then one byte a pixel
    for (let x = 0; x < width; x++) {
      const d = ((x - width / 2) / (width / 3)) ** 2 + ((y - height / 2) / (height / 3)) ** 2
      row[1 + x] = Math.max(20, Math.round(230 * (1 - d)))
    }
    return row
  })
  const pixels = Buffer.concat(rows)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

type Tab = { context: BrowserContext; page: Page; errors: string[]; expectRefusals: boolean }

describe('the web portal in chromium', () => {
  let s: TestStack
  let server: MedvaultServer
  let browser: Browser
  let webRoot: string
  const tabs: Record<string, Tab> = {}
  const tokens: Record<string, string> = {}
  const a = (name: string) => s.accounts[name]!

  before(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'medvault-web-'))
    await build({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } })

    s = await openTestStack({ providers: { lab: 'City Lab' } })
    // The patient and the cardiologist keep their own keys: the server cannot open their accounts.
    for (const [name, passphrase] of Object.entries(OWN)) {
      await createAccount(s.mv, name, passphrase)
      s.accounts[name] = await s.mv.keystore.unlock(name, passphrase)
    }
    await registerProvider(s.mv, registrar, {
      provider: a('cardio').address,
      name: 'Heart Clinic',
      encryptionKey: a('cardio').encryptionPublicKey,
    })
    tokens.glucose = (await issueExample(s, 'glucose.json', 'lab', 'alice')).toString()
    tokens.therapy = (await issueExample(s, 'therapy-note.json', 'lab', 'alice')).toString()
    tokens.immunization = (await issueExample(s, 'immunization.json', 'lab', 'alice')).toString()
    await authorizeProvider(s.mv, a('alice'), a('lab').address, new Date(Date.now() + 3600_000))
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

  /** Opens a browser profile for `who` and signs in by importing their keystore file. */
  async function signIn(who: string, passphrase: string): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [], expectRefusals: false }
    page.on('console', (m) => {
      if (m.type() !== 'error') return
      if (tab.expectRefusals && /status of 403/.test(m.text())) return
      tab.errors.push(m.text())
    })
    page.on('pageerror', (e) => tab.errors.push(e.message))
    tabs[who] = tab
    await page.goto(server.url)
    await page.getByLabel('Account file').setInputFiles(join(s.home, 'accounts', `${who}.json`))
    await page.getByText(`Account “${who}” found.`).waitFor()
    await page.getByLabel('Passphrase').fill(passphrase)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 })
    return tab
  }

  async function go(tab: Tab, path: string) {
    // In-app navigation: a reload would end the in-memory session.
    await tab.page.evaluate((p) => {
      const w = globalThis as any // the browser's window
      w.history.pushState(null, '', p)
      w.dispatchEvent(new w.PopStateEvent('popstate'))
    }, path)
  }

  async function shot(tab: Tab, name: string) {
    await tab.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
  }

  async function checkAccessible(tab: Tab) {
    await assertAccessible(tab.page)
  }

  function noConsoleErrors(tab: Tab) {
    assert.deepEqual(tab.errors, [], 'browser console errors')
  }

  it('signs the patient in with her CLI keystore and shows her verified timeline', async () => {
    const alice = await signIn('alice', OWN.alice)
    const { page } = alice
    await page.getByRole('heading', { name: 'My records' }).waitFor()
    const entries = page.locator('.timeline > li')
    await page.locator('.timeline .badge-ok').nth(2).waitFor({ timeout: 60_000 })
    assert.equal(await entries.count(), 3)
    await page.getByRole('link', { name: 'Glucose' }).waitFor()
    assert.ok(await page.getByText('City Lab').first().isVisible())
    await checkAccessible(alice)
    await shot(alice, 'timeline')
    // Responsive: the same page on a phone.
    await page.setViewportSize({ width: 390, height: 844 })
    await shot(alice, 'timeline-phone')
    await page.setViewportSize({ width: 1100, height: 800 })
    noConsoleErrors(alice)
  })

  it('renders a lab result for a person, with the stored record under Technical details', async () => {
    const alice = tabs.alice!
    const { page } = alice
    await page.getByRole('link', { name: 'Glucose' }).click()
    await page.getByRole('heading', { name: 'Glucose' }).waitFor()
    const row = page.locator('table.results tbody tr').first()
    assert.match((await row.textContent()) ?? '', /112 mg\/dL/)
    assert.match((await row.textContent()) ?? '', /70–99 mg\/dL/)
    assert.match((await row.textContent()) ?? '', /High/)
    await page.getByText('✓ Verified').waitFor()
    await page.getByText('Technical details').click()
    assert.match((await page.locator('#raw-record').textContent()) ?? '', /"resourceType": "Observation"/)
    await checkAccessible(alice)
    await shot(alice, 'record')
    await go(alice, `/records/${tokens.immunization}`)
    await page.getByText('EW0150', { exact: true }).waitFor()
    await shot(alice, 'record-immunization')
    noConsoleErrors(alice)
  })

  it('shares laboratory records only with the cardiologist, in plain words', async () => {
    const alice = tabs.alice!
    const { page } = alice
    await page.getByRole('link', { name: 'Sharing' }).click()
    await page.getByLabel('Who').selectOption({ label: 'Heart Clinic' })
    assert.equal(await page.getByLabel('Lab result').isChecked(), true)
    assert.equal(await page.getByLabel('Mental health').isChecked(), false)
    await page.getByLabel('30 days').check()
    assert.match((await page.locator('.summary').textContent()) ?? '', /Heart Clinic will be able to open your lab results until/)
    await checkAccessible(alice)
    await shot(alice, 'share')
    await page.getByRole('button', { name: 'Share', exact: true }).click()
    await page.getByText(/Heart Clinic can now open your lab results until .* \(1 record today/).waitFor({ timeout: 60_000 })
    await page.getByRole('button', { name: 'Stop sharing with Heart Clinic' }).waitFor()
    noConsoleErrors(alice)
  })

  it('lets the cardiologist see the lab result and not the psychiatric note', async () => {
    const cardio = await signIn('cardio', OWN.cardio)
    const { page } = cardio
    await page.getByRole('heading', { name: 'Heart Clinic' }).waitFor()
    await page.getByRole('button', { name: 'Show shared records' }).click()
    await page.locator('.timeline .badge-ok').first().waitFor({ timeout: 60_000 })
    assert.equal(await page.locator('.timeline > li').count(), 1)
    await page.getByRole('link', { name: 'Glucose' }).waitFor()
    await checkAccessible(cardio)
    await shot(cardio, 'provider')
    await page.getByRole('link', { name: 'Glucose' }).click()
    await page.getByText('✓ Verified').waitFor()
    assert.match((await page.locator('table.results').textContent()) ?? '', /112 mg\/dL/)
    await shot(cardio, 'provider-record')

    cardio.expectRefusals = true
    await go(cardio, `/records/${tokens.therapy}`)
    await page
      .getByRole('alert')
      .getByText(/may not read record/)
      .waitFor()
    cardio.expectRefusals = false
    noConsoleErrors(cardio)
  })

  it('revokes in one click, after which the cardiologist is refused', async () => {
    const alice = tabs.alice!
    await alice.page.getByRole('button', { name: 'Stop sharing with Heart Clinic' }).click()
    await alice.page.getByText('Heart Clinic can no longer open your lab results.').waitFor({ timeout: 60_000 })
    await alice.page.getByText(/Heart Clinic could open your lab results; you stopped this on/).waitFor()
    await shot(alice, 'share-revoked')
    noConsoleErrors(alice)

    const cardio = tabs.cardio!
    cardio.expectRefusals = true
    await go(cardio, `/records/${tokens.glucose}`)
    await cardio.page
      .getByRole('alert')
      .getByText(/may not read record/)
      .waitFor()
    await shot(cardio, 'provider-refused')
    cardio.expectRefusals = false
    await go(cardio, '/provider')
    await cardio.page.getByText('No patient is sharing records with you right now.').waitFor()
    noConsoleErrors(cardio)
  })

  it('shows the patient the denied attempt on the activity page', async () => {
    const alice = tabs.alice!
    const { page } = alice
    await page.getByRole('link', { name: 'Activity' }).click()
    await page.locator('table.activity').waitFor()
    // The page names each record's kind once it has listed the patient's records, a moment after the log.
    const denied = page
      .locator('tr.denied', { hasText: 'Heart Clinic' })
      .filter({ hasText: /asked to open your lab result|opened your lab result|checked your lab result/ })
    await denied.first().waitFor()
    assert.match((await denied.first().textContent()) ?? '', /Refused/)
    await checkAccessible(alice)
    await shot(alice, 'activity')
    noConsoleErrors(alice)
  })

  it('lets a provider issue a lab result through the form, which the patient sees verified', async () => {
    const lab = await signIn('lab', PASSPHRASE)
    const { page } = lab
    await page.getByRole('heading', { name: 'City Lab' }).waitFor()
    await page.getByLabel('Patient account').fill(a('alice').address)
    await page.getByLabel('Test', { exact: true }).fill('Hemoglobin')
    await page.getByLabel('LOINC code (optional)').fill('718-7')
    await page.getByRole('textbox', { name: 'Result', exact: true }).fill('13.2')
    await page.getByLabel('Unit').fill('g/dL')
    await page.getByLabel('Normal range from').fill('12')
    await page.getByLabel('Normal range to').fill('16')
    await checkAccessible(lab)
    await shot(lab, 'provider-issue')
    await page.getByRole('button', { name: 'Issue record' }).click()
    await page.getByText(/Issued record \d+ to the patient/).waitFor({ timeout: 60_000 })
    noConsoleErrors(lab)

    const alice = tabs.alice!
    await alice.page.getByRole('link', { name: 'My records' }).click()
    const hemoglobin = alice.page.locator('.timeline > li', { hasText: 'Hemoglobin' })
    await hemoglobin.locator('.badge-ok').waitFor({ timeout: 60_000 })
    await shot(alice, 'timeline-issued')
    await hemoglobin.getByRole('link', { name: 'Hemoglobin' }).click()
    assert.match((await alice.page.locator('table.results').textContent()) ?? '', /13\.2 g\/dL[\s\S]*12–16 g\/dL[\s\S]*Normal/)
    noConsoleErrors(alice)
  })

  it('lets a provider upload a PNG scan, which the patient opens and sees as an image', async () => {
    const lab = tabs.lab!
    const { page } = lab
    const png = join(webRoot, 'scan.png')
    writeFileSync(png, tinyPng())
    await page.getByLabel('Upload a file').check()
    await page.getByLabel('File', { exact: true }).setInputFiles(png)
    assert.equal(await page.getByText(/Issued record/).count(), 0, 'the earlier confirmation is cleared')
    assert.equal(await page.getByLabel('Category').inputValue(), 'imaging')
    await checkAccessible(lab)
    await shot(lab, 'provider-upload')
    await page.getByRole('button', { name: 'Issue record' }).click()
    const issued = page.getByText(/Issued record \d+ to the patient/)
    await issued.waitFor({ timeout: 60_000 })
    const tokenId = /Issued record (\d+)/.exec((await issued.textContent()) ?? '')![1]!
    noConsoleErrors(lab)

    const alice = tabs.alice!
    await alice.page.getByRole('link', { name: 'My records', exact: true }).click()
    const scan = alice.page.locator('.timeline > li', { hasText: 'Imaging' })
    await scan.locator('.badge-ok').waitFor({ timeout: 60_000 })
    await scan.getByRole('link', { name: 'Imaging' }).click()
    const img = alice.page.getByRole('img', { name: /Imaging scan attached to this record, issued by City Lab/ })
    await img.waitFor()
    await alice.page.getByText('✓ Verified').waitFor()
    assert.match((await img.getAttribute('src')) ?? '', /^blob:/)
    await alice.page.waitForFunction((el) => (el as any).complete && (el as any).naturalWidth === 240, await img.elementHandle())
    assert.equal(alice.page.url().endsWith(`/records/${tokenId}`), true)
    await checkAccessible(alice)
    await shot(alice, 'record-image')
    noConsoleErrors(alice)
  })

  it('lets the patient name a delegate, see them listed and remove them, signed in her browser', async () => {
    const isDelegate = () =>
      s.mv.publicClient.readContract({
        address: s.mv.deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'isDelegate',
        args: [a('alice').address, a('cardio').address],
      })
    const alice = tabs.alice!
    const { page } = alice
    await page.getByRole('link', { name: 'Sharing' }).click()
    await page.getByText('You have not named a delegate.').waitFor({ timeout: 60_000 })
    await page.getByLabel('Delegate account').fill(a('cardio').address)
    await page.getByRole('button', { name: 'Name delegate' }).click()
    const listed = page.locator('.delegates > li')
    await listed.first().waitFor({ timeout: 60_000 })
    assert.equal(await listed.count(), 1)
    assert.match((await listed.first().textContent()) ?? '', /Heart Clinic can share and stop sharing for you/)
    assert.equal(await isDelegate(), true)
    await checkAccessible(alice)
    await page.locator('#delegates-h').scrollIntoViewIfNeeded()
    await shot(alice, 'delegates')
    await page.getByRole('button', { name: 'Remove delegate Heart Clinic' }).click()
    await page.getByText('Heart Clinic is no longer your delegate.').waitFor({ timeout: 60_000 })
    await page.getByText('You have not named a delegate.').waitFor({ timeout: 60_000 })
    assert.equal(await isDelegate(), false)
    noConsoleErrors(alice)
  })

  it('keeps no plaintext health data or keys in localStorage', async () => {
    for (const tab of Object.values(tabs)) {
      const stored = await tab.page.evaluate(() => JSON.stringify({ ...(globalThis as any).localStorage }))
      assert.deepEqual(storedSecrets(stored), [], 'localStorage holds plaintext, keys or a token')
      assert.match(stored, /ciphertext/)
    }
  })
})
