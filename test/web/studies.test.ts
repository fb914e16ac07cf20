/**
 * The research market over HTTP and in the portal, on one real stack: a real server on a real
 * chain (anvil) and Helia store, its API over the socket, and headless Chromium (playwright-core).
 * A researcher posts a study through the API; one patient joins and delivers through the API, another
 * in the browser (Studies page) and withdraws her earnings there; the researcher downloads the
 * de-identified data and closes the study. Balances are read back from the chain.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { erc20Abi, getAddress } from 'viem'
import { build } from 'vite'
import { testStablecoinAbi, testStablecoinBytecode } from '../../src/contracts/testing.js'
import { createAccount } from '../../src/home/createAccount.js'
import { approveResearcher, earnings, NATIVE_ASSET } from '../../src/research/market/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { sessionToken } from '../integration/server.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack, registrar } from '../integration/stack.js'
import { checkAccessible, launchChromium } from './fixtures.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SHOTS = join(ROOT, 'docs', 'screenshots')
const PRICE = 1_000_000_000_000_000n // 0.001 ETH per record
const DESCRIPTION = 'Fasting glucose in adults'

describe('research studies over HTTP and in the portal', () => {
  let s: TestStack
  let server: MedvaultServer
  let browser: Browser
  let webRoot: string
  const contexts: BrowserContext[] = []
  const tokens: Record<string, string> = {}
  const records: Record<string, bigint> = {}
  const a = (name: string) => s.accounts[name]!
  let studyId: string

  /** The answer's status, content type and body (parsed JSON, else text). */
  async function api(
    path: string,
    who?: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<{ status: number; type: string; body: any }> {
    const res = await fetch(`${server.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    })
    const type = res.headers.get('content-type') ?? ''
    return { status: res.status, type, body: type.includes('json') && !type.includes('ndjson') ? await res.json() : await res.text() }
  }

  before(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'medvault-web-studies-'))
    const built = build({
      configFile: join(ROOT, 'web', 'vite.config.ts'),
      logLevel: 'error',
      build: { outDir: webRoot, emptyOutDir: true },
    })
    // researcher, dana and erin are custodial (the server's passphrase opens them); frank keeps his own keys.
    s = await openTestStack({ providers: { lab: 'City Lab' }, others: ['researcher', 'dana', 'erin'] })
    await createAccount(s.mv, 'frank', 'frank-own-passphrase')
    s.accounts.frank = await s.mv.keystore.unlock('frank', 'frank-own-passphrase')
    records.danaGlucose = await issueExample(s, 'glucose.json', 'lab', 'dana')
    records.danaVaccine = await issueExample(s, 'immunization.json', 'lab', 'dana')
    records.erinGlucose = await issueExample(s, 'glucose.json', 'lab', 'erin')
    await approveResearcher(s.mv, { registrar, researcher: a('researcher').address })
    await built
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, webRoot })
    for (const who of ['researcher', 'dana', 'erin', 'frank']) tokens[who] = await sessionToken(server.url, a(who).chainAccount)
    mkdirSync(SHOTS, { recursive: true })
    browser = await launchChromium()
  })

  after(async () => {
    for (const context of contexts) await context.close()
    await browser?.close()
    await server?.close()
    await s?.dispose()
    rmSync(webRoot, { recursive: true, force: true })
  })

  /** A browser tab signed in to the portal with an account file from the home; console errors collected. */
  async function signIn(account: string) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, acceptDownloads: true })
    contexts.push(context)
    const page: Page = await context.newPage()
    const errors: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(server.url)
    await page.getByLabel('Account file').setInputFiles(join(s.home, 'accounts', `${account}.json`))
    await page.getByLabel('Passphrase').fill(PASSPHRASE)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 })
    return { page, errors }
  }

  it('lets only an approved researcher post, storing the description and criteria in the protocol', async () => {
    const terms = {
      description: DESCRIPTION,
      protocol: { criteria: [{ system: 'http://loinc.org', code: '2345-7' }] },
      categories: ['laboratory'],
      pricePerRecord: PRICE.toString(),
      maxRecords: 4,
      deadline: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    }
    const refused = await api('/api/studies', 'dana', { body: terms })
    assert.equal(refused.status, 403)
    assert.match(refused.body.issue[0].diagnostics, /research organisation the registrar approved/)
    assert.equal((await api('/api/studies', 'researcher', { body: { ...terms, categories: [] } })).status, 422)

    const posted = await api('/api/studies', 'researcher', { body: terms })
    assert.equal(posted.status, 201, JSON.stringify(posted.body))
    assert.equal(posted.body.budget, (4n * PRICE).toString())
    assert.equal(posted.body.criteria, 1)
    studyId = posted.body.studyId
  })

  it('lists studies publicly; the researcher also sees the suppressed counts; all routes are in the OpenAPI document', async () => {
    const open = await api('/api/studies?state=open')
    assert.equal(open.status, 200)
    assert.equal(open.body.studies.length, 1)
    const [study] = open.body.studies
    assert.equal(study.description, DESCRIPTION)
    assert.equal(study.pricePerRecord, PRICE.toString())
    assert.deepEqual(study.assetInfo, { asset: 'native', symbol: 'ETH', decimals: 18 })
    assert.equal(study.eligible, undefined, 'counts only for the researcher')
    const mine = await api(`/api/studies?researcher=${a('researcher').address}`, 'researcher')
    // Over every category: the chain holds only blinded tags (research/studies/eligible.ts).
    assert.deepEqual(mine.body.studies[0].eligible.records, '<11')

    const detail = await api(`/api/studies/${studyId}`)
    assert.equal(detail.status, 200)
    assert.equal(detail.body.study.description, DESCRIPTION)
    assert.equal(detail.body.eligible, undefined, 'the counts scan every token: signed-in researchers only')
    assert.equal((await api(`/api/studies/${studyId}`, 'dana')).body.eligible, undefined)
    const counted = await api(`/api/studies/${studyId}`, 'researcher')
    assert.deepEqual(counted.body.eligible, { studyId, categories: ['laboratory'], records: '<11', patients: '<11' })
    assert.deepEqual(counted.body.deliveries, [])
    const missing = await api('/api/studies/999')
    assert.equal(missing.status, 404)
    assert.equal(missing.body.resourceType, 'OperationOutcome')
    assert.equal((await api('/api/earnings')).status, 401, 'earnings need a session')

    const doc = (await api('/openapi.json')).body
    for (const path of [
      '/api/studies',
      '/api/studies/{studyId}',
      '/api/studies/{studyId}/eligibility',
      '/api/studies/{studyId}/join',
      '/api/studies/{studyId}/close',
      '/api/studies/{studyId}/dataset',
      '/api/contributions/{contributionId}/deliver',
      '/api/earnings',
      '/api/earnings/withdraw',
    ]) {
      assert.ok(doc.paths[path], `${path} is in the OpenAPI document`)
    }
    assert.ok(doc.components.schemas.JoinStudyRequest)
  })

  it('checks a patient’s records one by one, and refuses what the server cannot sign', async () => {
    const checked = await api(`/api/studies/${studyId}/eligibility`, 'dana')
    assert.equal(checked.status, 200)
    const byId = new Map(checked.body.records.map((r: { tokenId: string }) => [r.tokenId, r]))
    assert.equal((byId.get(records.danaGlucose!.toString()) as { eligible: boolean }).eligible, true)
    const vaccine = byId.get(records.danaVaccine!.toString()) as { eligible: boolean; reason: string }
    assert.equal(vaccine.eligible, false)
    assert.match(vaccine.reason, /does not ask for immunization/)

    const frank = await api(`/api/studies/${studyId}/eligibility`, 'frank')
    assert.equal(frank.status, 403)
    assert.match(frank.body.issue[0].diagnostics, /does not hold the keys/)
    const both = await api(`/api/studies/${studyId}/join`, 'erin', { body: { tokenIds: ['1'], categories: ['laboratory'] } })
    assert.equal(both.status, 422)
    const notHers = await api(`/api/studies/${studyId}/join`, 'erin', { body: { tokenIds: [records.danaGlucose!.toString()] } })
    assert.equal(notHers.status, 403)
  })

  it('joins by category without delivering, then delivers, over HTTP', async () => {
    const joined = await api(`/api/studies/${studyId}/join`, 'erin', { body: { categories: ['laboratory'], deliver: false } })
    assert.equal(joined.status, 201, JSON.stringify(joined.body))
    assert.deepEqual(joined.body.tokenIds, [records.erinGlucose!.toString()])
    assert.equal(joined.body.delivery, null)
    assert.equal(joined.body.amount, PRICE.toString())

    const intruder = await api(`/api/contributions/${joined.body.contributionId}/deliver`, 'dana', { method: 'POST' })
    assert.equal(intruder.status, 403)
    const delivered = await api(`/api/contributions/${joined.body.contributionId}/deliver`, 'erin', { method: 'POST' })
    assert.equal(delivered.status, 200, JSON.stringify(delivered.body))
    assert.equal(delivered.body.resources, 1)
    assert.equal(delivered.body.amount, PRICE.toString())
    const again = await api(`/api/contributions/${joined.body.contributionId}/deliver`, 'erin', { method: 'POST' })
    assert.equal(again.status, 422, 'double delivery is refused')

    const audit = await api('/api/audit', 'erin')
    assert.ok(
      audit.body.entries.some(
        (e: { action: string; purpose?: string; tokenId?: string }) =>
          e.action === 'grant' && e.purpose === 'research' && e.tokenId === records.erinGlucose!.toString(),
      ),
      'the research consent is in the patient’s access log',
    )
  })

  it('lets a patient join in the browser with her chosen record, see the credit, and withdraw it', async () => {
    const { page, errors } = await signIn('dana')

    await page.getByRole('link', { name: 'Studies' }).click()
    await page.getByRole('heading', { name: 'Research studies' }).waitFor()
    const card = page.locator('.study', { hasText: DESCRIPTION })
    await card.waitFor()
    assert.match((await card.textContent()) ?? '', /pays 0\.001 ETH per record/)
    assert.match((await card.textContent()) ?? '', /3 records still paid for/)
    await page.getByText('You have not been paid for any study yet.').waitFor()
    await card.getByRole('button', { name: `Check my records for study ${studyId}` }).click()
    // Her one qualifying lab result, in words: no record number (issue 21).
    const glucose = card.getByLabel('Lab result', { exact: true })
    await glucose.waitFor({ timeout: 30_000 })
    assert.equal(await glucose.isChecked(), true)
    assert.match((await card.locator('details').textContent()) ?? '', /1 record of yours does not qualify/)
    await checkAccessible(page)
    await page.screenshot({ path: join(SHOTS, 'studies.png'), fullPage: true })

    await card.getByRole('button', { name: 'Join with 1 record' }).click()
    await card
      .getByText(/You joined study \d+ with 1 record: 1 de-identified entry was sent to the researcher and 0\.001 ETH credited/)
      .waitFor({
        timeout: 60_000,
      })
    const withdraw = page.getByRole('button', { name: 'Withdraw 0.001 ETH' })
    await withdraw.waitFor({ timeout: 30_000 })
    assert.match((await page.locator('.contributions').textContent()) ?? '', new RegExp(`Study ${studyId}: 1 record — delivered`))

    const before = await s.mv.publicClient.getBalance({ address: a('dana').address })
    await withdraw.click()
    await page.getByText('0.001 ETH was paid to your account.').waitFor({ timeout: 60_000 })
    await page.getByText(/Earned 0\.001 ETH in all; 0 ETH to withdraw, 0\.001 ETH already paid out/).waitFor({ timeout: 30_000 })
    await page.screenshot({ path: join(SHOTS, 'studies-earnings.png'), fullPage: true })
    const [owed] = await earnings(s.mv, a('dana').address)
    assert.deepEqual([owed!.asset, owed!.withdrawable, owed!.earned, owed!.withdrawn], [NATIVE_ASSET, 0n, PRICE, PRICE])
    const after = await s.mv.publicClient.getBalance({ address: a('dana').address })
    assert.ok(after > before && after <= before + PRICE, 'the payment reached her account (less the withdrawal’s gas)')
    assert.deepEqual(errors, [], 'browser console errors')
  })

  it('shows the researcher the deliveries in the portal, downloads them, and posts a second study from the form', async () => {
    const { page, errors } = await signIn('researcher')

    await page.getByRole('link', { name: 'Research' }).click()
    await page.getByRole('heading', { name: 'Research', exact: true }).waitFor()
    const study = page.locator('.study', { hasText: DESCRIPTION })
    await study.locator('.deliveries > li').nth(1).waitFor({ timeout: 30_000 })
    assert.equal(await study.locator('.deliveries > li').count(), 2)
    assert.match((await study.textContent()) ?? '', /2 delivered, 0 joined and waiting, of 4/)
    assert.match((await study.textContent()) ?? '', /of any kind .*: at most <11, held by <11 patient/)
    await study.getByRole('button', { name: `Download the data of study ${studyId}` }).click()
    await study
      .getByText(/2 de-identified entries from 2 deliveries, each checked against its commitment on chain/)
      .waitFor({ timeout: 30_000 })
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      study.getByRole('link', { name: `Save study-${studyId}.ndjson` }).click(),
    ])
    const saved = await download.path()
    assert.ok(saved)
    const lines = readFileSync(saved, 'utf8').trim().split('\n')
    assert.equal(lines.length, 2)
    assert.ok(!lines.join('\n').includes('Alice Example'))

    await page.getByLabel('Description').fill('Vaccination follow-up')
    await page.getByLabel('Lab result').uncheck()
    await page.getByLabel('Immunization').check()
    await page.getByLabel('Records paid for').fill('3')
    await page.getByLabel('Coded criteria (optional, one system|code a line)').fill('http://hl7.org/fhir/sid/cvx|208')
    await checkAccessible(page)
    await page.getByRole('button', { name: 'Post study' }).click()
    await page.getByText(/Posted study \d+; its budget is in escrow\./).waitFor({ timeout: 60_000 })
    const second = page.locator('.study', { hasText: 'Vaccination follow-up' })
    await second.waitFor({ timeout: 30_000 })
    assert.match((await second.textContent()) ?? '', /open · 0\.001 ETH per record · 0 delivered, 0 joined and waiting, of 3/)
    await page.screenshot({ path: join(SHOTS, 'research.png'), fullPage: true })
    const listed = (await api('/api/studies?state=open')).body.studies
    const posted = listed.find((x: { description: string }) => x.description === 'Vaccination follow-up')
    assert.deepEqual([posted.categories, posted.maxRecords, posted.unreservedBudget], [['immunization'], 3, (3n * PRICE).toString()])
    assert.deepEqual(errors, [], 'browser console errors')
  })

  it('gives the researcher the deliveries, the NDJSON with its k-anonymity report, and the refund on close', async () => {
    const detail = await api(`/api/studies/${studyId}`, 'researcher')
    assert.equal(detail.body.deliveries.length, 2)
    assert.equal((await api(`/api/studies/${studyId}/dataset`, 'dana')).status, 403)

    const got = await api(`/api/studies/${studyId}/dataset?k=2`, 'researcher')
    assert.equal(got.status, 200)
    assert.equal(got.body.resources, 2)
    assert.equal(got.body.kAnonymity.k, 2)
    const lines = got.body.ndjson.trim().split('\n').map(JSON.parse)
    assert.deepEqual(
      lines.map((r: { resourceType: string }) => r.resourceType),
      ['Observation', 'Observation'],
    )
    assert.ok(!got.body.ndjson.includes('Alice Example'), 'the example name does not reach the researcher')
    assert.notEqual(lines[0].subject.reference, lines[1].subject.reference, 'one pseudonym per patient')
    const raw = await api(`/api/studies/${studyId}/dataset?format=ndjson`, 'researcher')
    assert.equal(raw.type, 'application/fhir+ndjson')
    assert.equal(raw.body, got.body.ndjson)

    const paid = await api('/api/earnings/withdraw', 'erin', { body: {} })
    assert.deepEqual(
      paid.body.withdrawals.map((w: { asset: string; amount: string }) => [w.asset, w.amount]),
      [['native', PRICE.toString()]],
    )
    assert.equal((await api('/api/earnings/withdraw', 'erin', { body: {} })).status, 409, 'nothing left to withdraw')

    assert.equal((await api(`/api/studies/${studyId}/close`, 'dana', { method: 'POST' })).status, 403)
    const closed = await api(`/api/studies/${studyId}/close`, 'researcher', { method: 'POST' })
    assert.equal(closed.status, 200)
    assert.equal(closed.body.refund, (2n * PRICE).toString())
    assert.equal(closed.body.settled, false)
    const stillOpen = (await api('/api/studies?state=open')).body.studies.map((x: { studyId: string }) => x.studyId)
    assert.ok(!stillOpen.includes(studyId), 'a closed study is no longer listed as open')
  })
  it('runs a study in the test stablecoin over HTTP: its symbol and decimals, and a withdrawal of that asset alone', async () => {
    const wallet = s.mv.walletFor(registrar)
    const deployed = await s.mv.publicClient.waitForTransactionReceipt({
      hash: await wallet.deployContract({ abi: testStablecoinAbi, bytecode: testStablecoinBytecode }),
    })
    const usd = getAddress(deployed.contractAddress!)
    await s.mv.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: usd,
        abi: testStablecoinAbi,
        functionName: 'mint',
        args: [a('researcher').address, 10_000_000n],
      }),
    })
    const tokens = (who: string) =>
      s.mv.publicClient.readContract({ address: usd, abi: erc20Abi, functionName: 'balanceOf', args: [a(who).address] })
    const posted = await api('/api/studies', 'researcher', {
      body: {
        description: 'Glucose, paid in dollars',
        categories: ['laboratory'],
        pricePerRecord: '1500000',
        maxRecords: 2,
        deadline: new Date(Date.now() + 86_400_000).toISOString(),
        asset: usd,
      },
    })
    assert.equal(posted.status, 201, JSON.stringify(posted.body))
    assert.equal(await tokens('researcher'), 10_000_000n - 3_000_000n)
    const listed = (await api(`/api/studies/${posted.body.studyId}`)).body.study
    assert.deepEqual(listed.assetInfo, { asset: usd, symbol: 'tUSD', decimals: 6 })

    const joined = await api(`/api/studies/${posted.body.studyId}/join`, 'erin', { body: { tokenIds: [records.erinGlucose!.toString()] } })
    assert.equal(joined.status, 201, JSON.stringify(joined.body))
    assert.equal(joined.body.amount, '1500000')
    const owed = (await api('/api/earnings', 'erin')).body.earnings
    assert.deepEqual(
      owed.map((e: { asset: string; withdrawable: string }) => [e.asset, e.withdrawable]),
      [
        ['native', '0'],
        [usd, '1500000'],
      ],
    )
    const paid = await api('/api/earnings/withdraw', 'erin', { body: { asset: usd } })
    assert.deepEqual(
      paid.body.withdrawals.map((w: { asset: string; amount: string }) => [w.asset, w.amount]),
      [[usd, '1500000']],
    )
    assert.equal(await tokens('erin'), 1_500_000n)
  })
})
