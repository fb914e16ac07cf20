/**
 * A patient's first hour in the portal (issue 21), end to end in Debian's chromium against a real
 * server on a real chain: the activity page counts only attempts on the patient's own records.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { build } from 'vite'
import type { Observation } from '@medplum/fhirtypes'
import { consentRegistryAbi } from '../../src/contracts/index.js'
import { buildTagTable, openTags } from '../../src/core/index.js'
import { authorizeProvider, encryptionKeyOf } from '../../src/directory/index.js'
import { createAccount } from '../../src/home/createAccount.js'
import { importBundle, parseImportBundle, syntheticPatientBundle } from '../../src/import/index.js'
import { documentFromFhir, issueRecord } from '../../src/records/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack } from '../integration/stack.js'
import { sessionToken } from '../integration/server.js'
import { checkAccessible, launchChromium } from './fixtures.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SHOTS = join(ROOT, 'docs', 'screenshots')
const OWN = { alice: 'alice-own-passphrase', cardio: 'cardio-own-passphrase', bob: 'bob-own-passphrase' }
const HISTORY = 1000
const DANA = 'lamp river orange seven'
/** A heart rate as an EHR sends it: the vital-signs category, a LOINC code and its display. */
const HEART_RATE = {
  resourceType: 'Observation',
  status: 'final',
  category: [
    { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] },
  ],
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }], text: 'Heart rate' },
  subject: { reference: 'Patient/example' },
  effectiveDateTime: '2026-11-21T09:15:00Z',
  valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
}

type Tab = { context: BrowserContext; page: Page; errors: string[]; expectRefusals: boolean }

describe("a patient's first hour in the portal", () => {
  let s: TestStack
  let server: MedvaultServer
  let browser: Browser
  let webRoot: string
  let history: ReturnType<typeof syntheticPatientBundle>
  const tabs: Tab[] = []
  const a = (name: string) => s.accounts[name]!

  before(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'medvault-web-'))
    await build({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'error', build: { outDir: webRoot, emptyOutDir: true } })
    s = await openTestStack({ providers: { lab: 'City Lab', clinic: 'Heart Clinic' } })
    for (const [name, passphrase] of Object.entries(OWN)) {
      await createAccount(s.mv, name, passphrase)
      s.accounts[name] = await s.mv.keystore.unlock(name, passphrase)
    }
    await issueExample(s, 'glucose.json', 'lab', 'alice')
    // Bob's 1,000-record history, imported from a generated Synthea-shaped Bundle.
    await authorizeProvider(s.mv, a('bob'), a('lab').address, new Date(Date.now() + 3600_000))
    history = syntheticPatientBundle({ resources: HISTORY, seed: 21, sensitiveShare: 0 })
    const imported = await importBundle(s.mv, {
      issuer: a('lab'),
      patient: a('bob'),
      bundle: parseImportBundle(new TextEncoder().encode(JSON.stringify(history))),
      journalDir: join(s.home, 'imports'),
      batchSize: 100,
    })
    assert.equal(imported.imported, HISTORY)
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, webRoot })
    mkdirSync(SHOTS, { recursive: true })
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

  /** The text a person sees: rendered text, without what closed disclosures hide. */
  function visibleText(page: Page): Promise<string> {
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text (closed <details> left out) is what is read
    return page.evaluate(() => (globalThis as any).document.body.innerText as string)
  }

  async function shot(page: Page, name: string) {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false })
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

  it('shows 1,000 records in clinical time, by year and visit, found by search and category, in under a second', async () => {
    const bob = await newTab()
    const { page } = bob
    await page.getByLabel('Account file').setInputFiles(join(s.home, 'accounts', 'bob.json'))
    await page.getByLabel('Passphrase').fill(OWN.bob)
    const ready = (n: number) =>
      page.waitForFunction(
        (want) => {
          const d = (globalThis as any).document
          return d.querySelector('.history > [role=status]')?.textContent === want && d.querySelector('.year .entry') !== null
        },
        `${n.toLocaleString('en-GB')} records, newest first.`,
        { polling: 'raf', timeout: 120_000 },
      )
    const started = Date.now()
    await page.getByRole('button', { name: 'Sign in' }).click()
    await ready(HISTORY)
    const firstOpen = Date.now() - started

    // Again, as a patient coming back to the page.
    const renders: number[] = []
    for (let i = 0; i < 3; i++) {
      await go(bob, '/activity')
      await page.getByRole('heading', { name: 'Activity' }).waitFor()
      const t0 = await page.evaluate(() => performance.now())
      await go(bob, '/')
      await ready(HISTORY)
      renders.push((await page.evaluate(() => performance.now())) - t0)
    }
    const render = Math.min(...renders)
    // Every record is there: older years are laid out as they are scrolled to.
    const t1 = Date.now()
    for (let i = 0; i < 200 && (await page.locator('[data-record]').count()) < HISTORY; i++) await page.mouse.wheel(0, 4000)
    assert.equal(await page.locator('[data-record]').count(), HISTORY)
    console.log(
      `timeline of ${HISTORY} records: first open ${firstOpen} ms, shown again ${renders.map((r) => Math.round(r)).join('/')} ms, all rows laid out by scrolling ${Date.now() - t1} ms`,
    )
    assert.ok(render < 1000, `the timeline took ${render} ms to render`)
    await page.mouse.wheel(0, -1e6)
    await shot(page, 'timeline-history')

    // Ordered and grouped by clinical date: years from the history's own dates, not one issue date.
    const years = (await page.locator('.year > h2').allTextContents()).map((h) => h.split(' ')[0]!)
    const dated = history.entry!.flatMap((e) => {
      const r = e.resource as Observation
      return r.effectiveDateTime ? [Number(r.effectiveDateTime.slice(0, 4))] : []
    })
    assert.ok(years.length > 3, `years: ${years.join(', ')}`)
    for (const y of years) assert.ok(Number(y) >= Math.min(...dated) && Number(y) <= Math.max(...dated), `year ${y}`)
    assert.deepEqual(years, [...years].sort().reverse())
    assert.ok((await page.locator('.visit').count()) > 10, 'records grouped by visit')
    assert.ok((await page.getByText(/^added on /).count()) > 0)

    // "My blood test in March 2019": a lab result found by words and month.
    const lab = history
      .entry!.map((e) => e.resource as Observation)
      .find((r) => r.resourceType === 'Observation' && r.category?.[0]?.coding?.[0]?.code === 'laboratory')!
    const when = new Date(lab.effectiveDateTime!)
    const month = when.toLocaleString('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' })
    await page.getByRole('searchbox', { name: 'Search' }).fill(`my blood test in ${month}`)
    const title = lab.code!.text!.replace(/\s*\[[^\]]*\]/g, '')
    await page.locator('.entry', { hasText: title }).first().waitFor()
    await shot(page, 'timeline-search')
    const found = await page.locator('.entry time.clinical').allTextContents()
    assert.ok(found.length >= 1 && found.length < 100, `${found.length} found`)
    for (const d of found) assert.match(d, new RegExp(month.split(' ')[0]!.slice(0, 3)))
    await page.getByRole('searchbox', { name: 'Search' }).fill('')

    await page.getByLabel('Show').selectOption({ label: (await page.locator('option', { hasText: /^Conditions/ }).textContent())! })
    const categories = new Set(await page.locator('.entry .category').allTextContents())
    assert.deepEqual([...categories], ['Conditions'])
    assert.deepEqual(bob.errors, [])

    // Only the patient may fetch the sealed history in bulk.
    const cardio = await sessionToken(server.url, a('cardio').chainAccount)
    const res = await fetch(`${server.url}/api/patients/${a('bob').address}/envelopes`, { headers: { authorization: `Bearer ${cardio}` } })
    await res.arrayBuffer()
    assert.equal(res.status, 403)
  })

  it('speaks to the patient in plain words on every page: no ids, account numbers or technical terms', async () => {
    const alice = await signInWithFile('alice', OWN.alice)
    const { page } = alice
    const pages: [path: string, ready: string][] = [
      ['/', '.entry .badge-ok'],
      ['/activity', 'h1'],
      ['/share', '#delegate'],
      ['/studies', 'h1'],
      ['/verify', 'h1'],
    ]
    const texts: [string, string][] = []
    for (const [path, ready] of pages) {
      await go(alice, path)
      await page.locator(ready).first().waitFor({ timeout: 60_000 })
      await page.waitForFunction(() => !/Loading|Checking…/.test((globalThis as any).document.body.textContent))
      if (path === '/activity') await page.getByLabel('Include what I did myself').check()
      texts.push([path, await visibleText(page)])
    }
    await go(alice, '/')
    await page.getByRole('link', { name: 'Glucose' }).click()
    await page.getByText('✓ Verified').waitFor({ timeout: 60_000 })
    texts.push(['a record', await visibleText(page)])
    // The technical detail is one disclosure away.
    await page.getByText('Technical details').click()
    assert.match((await page.locator('#raw-record').textContent()) ?? '', /"resourceType": "Observation"/)
    const signedOut = await newTab()
    await signedOut.page.getByRole('heading').first().waitFor()
    texts.push(['sign in', await visibleText(signedOut.page)])

    const FORBIDDEN: [string, RegExp][] = [
      ['key', /\bkeys?\b/i],
      ['signature', /signature/i],
      ['FHIR', /FHIR/i],
      ['JWS', /\bJWS\b/],
      ['ES256', /ES256/],
      ['on chain', /on[- ]chain/i],
      ['an account number', /0x[0-9a-f]{4,}|0x…/i],
      ['a record number', /\brecords? #?\d+\b/i],
      ['account address', /account address/i],
      ['a FHIR type name', /AllergyIntolerance|MedicationRequest|ExplanationOfBenefit|DiagnosticReport|Observation\b|\bClaim\b/],
    ]
    const found = texts.flatMap(([where, text]) =>
      FORBIDDEN.filter(([, re]) => re.test(text)).map(([what, re]) => `${where}: ${what} (${re.exec(text)![0]})`),
    )
    assert.deepEqual(found, [])
    assert.deepEqual(alice.errors, [])
  })

  it('lets a new patient create a vault with no file, receive a record under its clinical date, share lab results (vital signs apart) and sign back in with the passphrase', async () => {
    const tab = await newTab()
    const { page } = tab
    await shot(page, 'signin-new')
    await page.getByRole('button', { name: 'Create my vault' }).click()
    await page.getByLabel('Your first name').fill('Dana')
    await page.getByLabel('Choose a passphrase').fill(DANA)
    await page.getByLabel('Type it again').fill(DANA)
    await checkAccessible(page)
    await shot(page, 'signup')
    await page.getByRole('button', { name: 'Create my vault' }).click()
    await page.getByText('Providers can now send records to your vault.').waitFor({ timeout: 180_000 })
    assert.doesNotMatch(await visibleText(page), /\bkeys?\b|signature|0x[0-9a-f]{4,}/i, 'the welcome page speaks plainly')
    await checkAccessible(page)
    await shot(page, 'welcome')

    // The recovery kit is the CLI's own account file: the medvault program opens it with the passphrase.
    const download = page.waitForEvent('download')
    await page.getByRole('link', { name: 'Download my recovery kit' }).click()
    await (await download).saveAs(join(s.home, 'accounts', 'dana.json'))
    s.accounts.dana = await s.mv.keystore.unlock('dana', DANA)
    assert.equal(await encryptionKeyOf(s.mv, a('dana').address), a('dana').encryptionPublicKey, 'encryption key published')
    // Her open tags too, or an "all" grant or break-glass would reach none of her records.
    for (const tag of openTags(buildTagTable(a('dana').tagSecret))) {
      const open = await s.mv.publicClient.readContract({
        address: s.mv.deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'isOpenTag',
        args: [a('dana').address, tag],
      })
      assert.ok(open, `open tag ${tag} published`)
    }
    const stored = await page.evaluate(() => JSON.stringify({ ...(globalThis as any).localStorage }))
    assert.ok(!/privateKey|encryptionSeed/.test(stored), 'only the sealed vault is kept')

    // A provider sends her a lab result taken on 20 Nov 2026.
    const glucoseId = await issueExample(s, 'glucose.json', 'lab', 'dana')
    await page.getByRole('link', { name: 'Go to my records' }).click()
    const row = page.locator('.entry', { hasText: 'Glucose' })
    await row.locator('.badge-ok').waitFor({ timeout: 60_000 })
    assert.match((await row.locator('time.clinical').textContent()) ?? '', /^20 Nov 2026$/)
    assert.match((await row.textContent()) ?? '', /added on \d{1,2} \w{3} 20\d\d/)

    // A heart rate taken the next day is filed with the vital signs, not as a note or a lab result.
    const heartRate = documentFromFhir(new TextEncoder().encode(JSON.stringify(HEART_RATE)))
    assert.equal(heartRate.category, 'vital-signs')
    const { tokenId: heartRateId } = await issueRecord(s.mv, {
      issuer: a('lab'),
      patient: a('dana'),
      content: heartRate.content,
      contentType: heartRate.contentType,
      category: heartRate.category,
      sensitivity: heartRate.sensitivity,
      consent: { patient: a('dana') },
    })
    await page.reload()
    await page.getByLabel('Passphrase').fill(DANA)
    await page.getByRole('button', { name: 'Sign in' }).click()
    const pulse = page.locator('.entry', { hasText: 'Heart rate' })
    await pulse.locator('.badge-ok').waitFor({ timeout: 60_000 })
    assert.equal(await pulse.locator('.category').textContent(), 'Vital signs')
    assert.match((await pulse.locator('time.clinical').textContent()) ?? '', /^21 Nov 2026$/)

    // She shares her lab results with the heart clinic: the glucose goes, the heart rate does not;
    // then her vital signs, and the heart rate goes with them.
    const clinic = await sessionToken(server.url, a('clinic').chainAccount)
    const canRead = async (tokenId: bigint) => {
      const res = await fetch(`${server.url}/api/records/${tokenId}`, { headers: { authorization: `Bearer ${clinic}` } })
      await res.arrayBuffer()
      return res.status
    }
    await go(tab, '/share')
    await page.getByLabel('Who').selectOption({ label: 'Heart Clinic' })
    assert.equal(await page.getByLabel('Lab result').isChecked(), true)
    assert.equal(await page.getByLabel('Vital signs').isChecked(), false)
    await page.getByRole('button', { name: 'Share', exact: true }).click()
    await page.getByText(/Heart Clinic can now open your lab results until .* \(1 record today/).waitFor({ timeout: 60_000 })
    assert.deepEqual([await canRead(glucoseId), await canRead(heartRateId)], [200, 403])
    await page.getByLabel('Lab result').uncheck()
    await page.getByLabel('Vital signs').check()
    await page.getByRole('button', { name: 'Share', exact: true }).click()
    await page.getByText(/Heart Clinic can now open your vital signs until .* \(1 record today/).waitFor({ timeout: 60_000 })
    assert.equal(await canRead(heartRateId), 200)
    await go(tab, '/')

    // Signing in again on this device takes the passphrase only.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Welcome back, dana' }).waitFor()
    await shot(page, 'signin-again')
    assert.equal(await page.getByLabel('Account file').count(), 0)
    await page.getByLabel('Passphrase').fill(DANA)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await row.locator('time.clinical').waitFor({ timeout: 60_000 })
    assert.deepEqual(tab.errors, [])
  })
})
