/**
 * Signing up in the browser and keeping the vault (issue 21), in chromium against a real server on
 * a real chain: after "Create my vault" the patient saves a recovery kit and names guardians with
 * printed recovery sheets; the kit opens the vault in a fresh browser, and two of the three sheets
 * rebuild the vault's key for a new account with the CLI's recovery code.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { type Address, bytesToHex } from 'viem'
import { build } from 'vite'
import { createAccount } from '../../src/home/createAccount.js'
import { createFileRecoveryStore, getRecoveryState, rebuildSecrets, releasePaperShare } from '../../src/recovery/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { PASSPHRASE, type TestStack, openTestStack } from '../integration/stack.js'
import { checkAccessible, launchChromium } from './fixtures.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const SHOTS = join(ROOT, 'docs', 'screenshots')
const EVE = 'violet harbour candle nine'
/** What firstHour.test.ts keeps off patient pages: technical words, account and record numbers. */
const TECHNICAL = /\bkeys?\b|signature|FHIR|\bJWS\b|ES256|on[- ]chain|0x[0-9a-f]{4,}|0x…|account address|\brecords? #?\d+\b/i

type Tab = { context: BrowserContext; page: Page; errors: string[] }

describe('signing up in the browser, and keeping the vault', () => {
  let s: TestStack
  let server: MedvaultServer
  let browser: Browser
  let webRoot: string
  let work: string
  const tabs: Tab[] = []

  before(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'medvault-web-'))
    work = mkdtempSync(join(tmpdir(), 'medvault-signup-'))
    await build({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } })
    s = await openTestStack()
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, webRoot })
    browser = await launchChromium()
  })

  after(async () => {
    for (const tab of tabs) await tab.context.close()
    await browser?.close()
    await server?.close()
    await s?.dispose()
    rmSync(webRoot, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  })

  async function newTab(url = server.url): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [] }
    page.on('console', (m) => {
      if (m.type() === 'error') tab.errors.push(m.text())
    })
    page.on('pageerror', (e) => tab.errors.push(e.message))
    tabs.push(tab)
    await page.goto(url)
    await page
      .locator('h1')
      .waitFor({ timeout: 30_000 })
      .catch(() => assert.fail(`the portal did not start: ${tab.errors.join('; ')}`))
    return tab
  }

  const visibleText = (page: Page) =>
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text (closed <details> left out) is what is read
    page.evaluate(() => (globalThis as any).document.body.innerText as string)

  it('walks a new patient through a recovery kit and guardians; the kit opens the vault elsewhere and the sheets rebuild its key', async () => {
    const tab = await newTab()
    const { page } = tab
    await page.getByRole('button', { name: 'Create my vault' }).click()
    await page.getByLabel('Your first name').fill('Eve')
    await page.getByLabel('Choose a passphrase').fill(EVE)
    await page.getByLabel('Type it again').fill(EVE)
    await page.getByRole('button', { name: 'Create my vault' }).click()
    await page.getByText('Providers can now send records to your vault.').waitFor({ timeout: 180_000 })

    // The kit: the account file, sealed under the passphrase.
    const download = page.waitForEvent('download')
    await page.getByRole('link', { name: 'Download my recovery kit' }).click()
    const kit = join(work, 'kit.json')
    await (await download).saveAs(kit)

    // Guardians: three people, any two of them.
    await page.getByLabel('First person').fill('Ann')
    await page.getByLabel('Second person').fill('Ben')
    await page.getByLabel('Third person (optional)').fill('Cy')
    await page.getByLabel('How many of them must agree').selectOption('2')
    await checkAccessible(page)
    await page.getByRole('button', { name: 'Make the recovery sheets' }).click()
    await page.getByText('✓ 3 guardians named. Any 2 of them together').waitFor({ timeout: 120_000 })
    const sheets = await page.locator('.sheet-text code').allTextContents()
    assert.equal(sheets.length, 3)
    assert.doesNotMatch(await visibleText(page), TECHNICAL, 'the welcome page speaks plainly')
    await checkAccessible(page)
    await page.getByRole('heading', { name: 'Or name guardians' }).evaluate((h) => h.scrollIntoView({ block: 'start' }))
    await page.screenshot({ path: join(SHOTS, 'welcome-guardians.png') })
    const saved = page.waitForEvent('download')
    await page.getByRole('link', { name: 'Save the sheet for Ben' }).click()
    assert.equal((await saved).suggestedFilename(), 'medvault-recovery-sheet-Ben.txt')
    const stored = await page.evaluate(() => JSON.stringify({ ...(globalThis as any).localStorage }))
    assert.ok(!sheets.some((sheet) => stored.includes(sheet.split('.')[5]!)), 'the sheets are not kept in the browser')

    // The CLI opens the kit with the passphrase.
    mkdirSync(join(s.home, 'accounts'), { recursive: true })
    copyFileSync(kit, join(s.home, 'accounts', 'eve.json'))
    const eve = await s.mv.keystore.unlock('eve', EVE)

    // On chain: three approvers, two needed, the CLI's three days to cancel.
    const state = await getRecoveryState(s.mv, eve.address)
    assert.equal(state.guardians.length, 3)
    assert.equal(state.threshold, 2)
    assert.equal(state.delaySeconds, 3 * 86_400)

    // Ann and Cy type their sheets in for Eve's new account: their approvals count on chain, and the
    // two shares rebuild Eve's key (checked against the key she published).
    await createAccount(s.mv, 'eve-new', PASSPHRASE)
    const fresh = await s.mv.keystore.unlock('eve-new', PASSPHRASE)
    const store = createFileRecoveryStore(join(work, 'recovery'))
    for (const sheet of [sheets[0]!, sheets[2]!]) {
      const released = await releasePaperShare(s.mv, { sheet, newAccount: fresh.address, submitter: fresh.chainAccount, store })
      assert.equal(released.patient, eve.address)
    }
    const after = await getRecoveryState(s.mv, eve.address)
    assert.equal(after.pending?.newAccount, fresh.address as Address, 'two approvals make the recovery pending')
    const { encryptionSeed: seed } = await rebuildSecrets(s.mv, { patient: eve.address, newAccount: fresh, store })
    assert.equal(bytesToHex(seed), bytesToHex(eve.encryptionSeed))

    // A fresh browser, as on a new computer: the kit and the passphrase open the same vault.
    const other = await newTab()
    await other.page.getByLabel('Account file').setInputFiles(kit)
    await other.page.getByText('Account “eve” found.').waitFor()
    await other.page.getByLabel('Passphrase').fill(EVE)
    await other.page.getByRole('button', { name: 'Sign in' }).click()
    await other.page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 })
    const remembered = await other.page.evaluate(() => (globalThis as any).localStorage.getItem('medvault.keystores.v1') as string)
    assert.match(remembered, new RegExp(eve.address.slice(2), 'i'))
    assert.deepEqual(tab.errors, [])
    assert.deepEqual(other.errors, [])
  })

  /** Chromium's virtual authenticator (CDP WebAuthn domain): a platform passkey that answers without a person. */
  async function virtualAuthenticator(page: Page, hasPrf: boolean) {
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('WebAuthn.enable', { enableUI: false })
    const options = {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      hasPrf,
    } as const
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options })
    return { cdp, authenticatorId }
  }

  it('creates a vault locked by a passkey (WebAuthn PRF), signs out and back in with it, and makes a kit the CLI opens', async () => {
    // A passkey's scope is a domain: an IP address cannot be one, localhost can.
    const url = server.url.replace('127.0.0.1', 'localhost')
    const tab = await newTab(url)
    const { page } = tab
    const { cdp, authenticatorId } = await virtualAuthenticator(page, true)
    await page.getByRole('button', { name: 'Create my vault' }).click()
    await page.getByLabel('Your first name').fill('Pat')
    await page.getByLabel(/A passkey/).check()
    assert.equal(await page.getByLabel('Choose a passphrase').count(), 0, 'no passphrase asked for')
    await checkAccessible(page)
    assert.doesNotMatch(await visibleText(page), TECHNICAL)
    await page.screenshot({ path: join(SHOTS, 'signup-passkey.png') })
    await page.getByRole('button', { name: 'Create my vault with a passkey' }).click()
    await page.getByText('Providers can now send records to your vault.').waitFor({ timeout: 180_000 })
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    assert.equal(credentials.length, 1, 'one passkey made')

    // Only the sealed vault is kept: no passphrase file, no keys in the clear.
    const stored = await page.evaluate(() => ({ ...(globalThis as any).localStorage }) as Record<string, string>)
    assert.deepEqual(
      Object.keys(stored).filter((k) => k.startsWith('medvault.keystores')),
      [],
    )
    const vault = JSON.parse(stored['medvault.passkey-vaults.v1']!)[0]
    assert.ok(!/privateKey|encryptionSeed/.test(JSON.stringify(stored)))

    // Its recovery kit: the same vault sealed under a passphrase chosen for the kit; the CLI opens it.
    await page.getByLabel('A passphrase for the kit').fill(EVE)
    await page.getByLabel('Type it again').fill(EVE)
    await page.getByRole('button', { name: 'Make my recovery kit' }).click()
    const download = page.waitForEvent('download')
    await page.getByRole('link', { name: 'Download my recovery kit' }).click()
    await (await download).saveAs(join(s.home, 'accounts', 'pat.json'))
    assert.doesNotMatch(await visibleText(page), TECHNICAL, 'the welcome page of a passkey vault speaks plainly')
    const pat = await s.mv.keystore.unlock('pat', EVE)
    assert.equal(pat.address, vault.address)

    // Signing out and back in takes the passkey only.
    await page.getByRole('link', { name: 'Go to my records' }).click()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Welcome back, pat' }).waitFor()
    assert.equal(await page.getByLabel('Passphrase').count(), 1, 'the file path stays for other vaults')
    assert.doesNotMatch(await visibleText(page), TECHNICAL)
    await page.screenshot({ path: join(SHOTS, 'signin-passkey.png') })
    await page.getByRole('button', { name: 'Open pat’s vault with my passkey' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 })
    assert.equal(
      (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]!.signCount,
      2,
      'asked twice: made and opened',
    )
    assert.deepEqual(tab.errors, [])

    // Without PRF the passkey cannot lock a vault: the page says so and the passphrase stays.
    const plain = await newTab(url)
    await virtualAuthenticator(plain.page, false)
    await plain.page.getByRole('button', { name: 'Create my vault' }).click()
    await plain.page.getByLabel('Your first name').fill('Quinn')
    await plain.page.getByLabel(/A passkey/).check()
    await plain.page.getByRole('button', { name: 'Create my vault with a passkey' }).click()
    await plain.page.getByText('cannot lock a vault. Choose a passphrase instead.').waitFor({ timeout: 60_000 })
    assert.ok(await plain.page.getByLabel(/A passphrase I choose/).isChecked())
    await plain.page.getByLabel('Choose a passphrase').fill(EVE)
    await plain.page.getByLabel('Type it again').fill(EVE)
    await plain.page.getByRole('button', { name: 'Create my vault' }).click()
    await plain.page.getByText('Providers can now send records to your vault.').waitFor({ timeout: 180_000 })
  })
})
