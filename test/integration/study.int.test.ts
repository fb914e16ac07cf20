/**
 * The study flow end to end on a real embedded chain (anvil) and Helia store: a researcher posts a
 * study in native currency, three patients join with their records and deliver de-identified
 * datasets sealed to the researcher, the researcher downloads and checks them, the patients
 * withdraw their payments, and every balance is checked to the wei, gas included.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { type Address, erc20Abi, getAddress, type Hex } from 'viem'
import { medicalRecordAbi, researchMarketAbi } from '../../src/contracts/index.js'
import { testStablecoinAbi, testStablecoinBytecode } from '../../src/contracts/testing.js'
import { categoryTag, deriveTagSecret } from '../../src/core/categoryTags.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { documentFromFhir, issueRecord } from '../../src/records/index.js'
import { approveResearcher, closeStudy, earnings, getStudy, NATIVE_ASSET, postStudy, withdraw } from '../../src/research/market/index.js'
import {
  criteriaHash,
  criteriaOf,
  descriptionHash,
  downloadStudy,
  eligibleCounts,
  joinAndDeliver,
  recordEligibility,
  storeBytes,
} from '../../src/research/studies/index.js'
import { medvault } from './cli.js'
import { openTestStack, registrar, type TestStack } from './stack.js'

const example = (name: string) => fileURLToPath(new URL(`../../examples/fhir/${name}`, import.meta.url))

const PATIENTS = ['alice', 'bob', 'carol'] as const
const PRICE = 1_000_000_000_000_000n // 0.001 ether per record
const MAX_RECORDS = 10

/** Identifying values per patient that must not reach the researcher. */
const identity = (name: string) => ({
  fullName: `${name[0]!.toUpperCase()}${name.slice(1)} Zyxwvutsrq`,
  mrn: `MRN-${name.toUpperCase()}-884213`,
  lot: `LOT${name.toUpperCase()}77`,
})

function glucose(name: string, value: number) {
  const id = identity(name)
  return {
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: 'urn:oid:1.2.3.4', value: id.mrn }],
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] },
    subject: { reference: `Patient/${name}-1`, display: id.fullName },
    effectiveDateTime: '2026-11-20T08:30:00Z',
    valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  }
}

function immunization(name: string) {
  const id = identity(name)
  return {
    resourceType: 'Immunization',
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
    patient: { reference: `Patient/${name}-1`, display: id.fullName },
    occurrenceDateTime: '2026-10-02',
    lotNumber: id.lot,
  }
}

function ekg(name: string) {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '11524-6', display: 'EKG study' }] },
    subject: { reference: `Patient/${name}-1` },
    effectiveDateTime: '2026-11-21',
  }
}

describe('research study: post, join and deliver, download, earnings', () => {
  let stack: TestStack
  const records: Record<string, { lab: bigint; vaccine: bigint; ekg: bigint }> = {}
  let aliceNote: bigint
  const gasOf = async (hash: Hex) => {
    const receipt = await stack.mv.publicClient.getTransactionReceipt({ hash })
    return receipt.gasUsed * receipt.effectiveGasPrice
  }
  const balance = (address: Hex) => stack.mv.publicClient.getBalance({ address })

  before(async () => {
    stack = await openTestStack({ providers: { lab: 'Lab A' }, others: ['researcher', ...PATIENTS] })
    const issue = async (patient: string, resource: object) => {
      const doc = documentFromFhir(JSON.stringify(resource))
      const { tokenId } = await issueRecord(stack.mv, {
        issuer: stack.accounts.lab!,
        patient: stack.accounts[patient]!,
        content: doc.content,
        contentType: doc.contentType,
        category: doc.category,
        sensitivity: doc.sensitivity,
        consent: { patient: stack.accounts[patient]! },
      })
      return tokenId
    }
    for (const [i, name] of PATIENTS.entries()) {
      records[name] = {
        lab: await issue(name, glucose(name, 100 + i)),
        vaccine: await issue(name, immunization(name)),
        ekg: await issue(name, ekg(name)),
      }
    }
    // A clinical note: FHIR, meets the coded criteria, but of a category the study does not ask for.
    const note = documentFromFhir(JSON.stringify(glucose('alice', 99)))
    ;({ tokenId: aliceNote } = await issueRecord(stack.mv, {
      issuer: stack.accounts.lab!,
      patient: stack.accounts.alice!,
      content: note.content,
      contentType: note.contentType,
      category: 'clinical-note',
      sensitivity: 0,
      consent: { patient: stack.accounts.alice! },
    }))
    await approveResearcher(stack.mv, { registrar, researcher: stack.accounts.researcher!.address })
  })
  after(() => stack?.dispose())

  let studyId: bigint
  let postGas: bigint
  const paid: Record<string, { before: bigint; gas: bigint; amount: bigint; pseudonym: string }> = {}

  it('posts a study with coded criteria and its protocol on IPFS, escrowing the budget to the wei', async () => {
    const researcher = stack.accounts.researcher!
    const protocol = Buffer.from(
      JSON.stringify({
        title: 'Glucose and COVID-19 vaccination',
        criteria: [
          { system: 'http://loinc.org', code: '2345-7' },
          { system: 'http://hl7.org/fhir/sid/cvx', code: '208' },
        ],
      }),
    )
    const criteria = criteriaOf(protocol)
    assert.equal(criteria.length, 2)
    const before = await balance(researcher.address)
    const posted = await postStudy(stack.mv, {
      researcher: researcher.chainAccount,
      protocolCid: await storeBytes(stack.mv.store, protocol),
      descriptionHash: descriptionHash('Glucose after vaccination'),
      categories: ['laboratory', 'immunization'],
      criteriaHash: criteriaHash(criteria),
      asset: NATIVE_ASSET,
      pricePerRecord: PRICE,
      maxRecords: MAX_RECORDS,
      deadline: new Date(Date.now() + 30 * 86_400_000),
    })
    studyId = posted.studyId
    postGas = await gasOf(posted.txHash)
    assert.equal(await balance(researcher.address), before - PRICE * BigInt(MAX_RECORDS) - postGas)
    const study = await getStudy(stack.mv, studyId)
    assert.equal(study.state, 'open')
    assert.equal(study.unreservedBudget, PRICE * BigInt(MAX_RECORDS))
  })

  it('counts live records before buying, over every category (the chain has only blinded tags), suppressing counts under 11', async () => {
    const counts = await eligibleCounts(stack.mv, studyId)
    assert.deepEqual(counts, { studyId, categories: ['laboratory', 'immunization'], records: '<11', patients: '<11' })
  })

  it("refuses, before anything goes on chain, a record outside the study's categories: the patient's client checks, the contract cannot", async () => {
    const study = await getStudy(stack.mv, studyId)
    await assert.rejects(
      joinAndDeliver(stack.mv, { patient: stack.accounts.alice!, studyId, tokenIds: [records.alice!.lab, aliceNote], deliver: false }),
      (e: Error) =>
        e.name === 'InvalidInputError' &&
        e.message === `Record #${aliceNote} is clinical-note; study #${studyId} asks for laboratory, immunization.`,
    )
    // The same record as the market contract sees it: a tag it cannot read, so it would take it.
    const { result } = await stack.mv.publicClient.simulateContract({
      address: stack.mv.deployment.research!,
      abi: researchMarketAbi,
      functionName: 'join',
      args: [studyId, [aliceNote]],
      account: stack.accounts.alice!.address,
    })
    assert.ok(result > 0n)
    const eligibility = await recordEligibility(stack.mv, {
      patient: stack.accounts.alice!,
      study,
      // The listed category is not trusted: the patient's own table names the note's.
      records: [{ tokenId: aliceNote, category: 'laboratory' }],
    })
    assert.deepEqual(eligibility, [
      {
        tokenId: aliceNote,
        category: 'clinical-note',
        eligible: false,
        reason: `Study #${studyId} does not ask for clinical-note records.`,
      },
    ])
    assert.equal((await getStudy(stack.mv, studyId)).reserved, study.reserved)
  })

  it("refuses a record whose tag is not one of the patient's own (another key's tag), before anything goes on chain", async () => {
    const lab = stack.accounts.lab!
    const alice = stack.accounts.alice!
    await authorizeProvider(stack.mv, alice, lab.address, new Date(Date.now() + 3600_000))
    const foreign = categoryTag(deriveTagSecret(new Uint8Array(32).fill(7)), 'laboratory', 0)
    const hash = await stack.mv.walletFor(lab.chainAccount).writeContract({
      address: stack.mv.deployment.records,
      abi: medicalRecordAbi,
      functionName: 'mint',
      args: [
        { patient: alice.address, commitment: `0x${'ee'.repeat(32)}`, cidDigest: `0x${'ef'.repeat(32)}`, cidCodec: 0x55, tag: foreign },
        0n,
        '0x',
      ],
    })
    await stack.mv.publicClient.waitForTransactionReceipt({ hash })
    const tokenId = await stack.mv.publicClient.readContract({
      address: stack.mv.deployment.records,
      abi: medicalRecordAbi,
      functionName: 'lastTokenId',
    })
    await assert.rejects(
      joinAndDeliver(stack.mv, { patient: alice, studyId, tokenIds: [tokenId], deliver: false }),
      (e: Error) => e.name === 'InvalidInputError' && /carries a category tag this account does not know/.test(e.message),
    )
  })

  it('refuses, before anything goes on chain, a record that does not meet the coded criteria', async () => {
    const study = await getStudy(stack.mv, studyId)
    await assert.rejects(
      joinAndDeliver(stack.mv, { patient: stack.accounts.alice!, studyId, tokenIds: [records.alice!.ekg] }),
      (e: Error) => e.name === 'InvalidInputError' && /coded criteria/.test(e.message),
    )
    assert.equal((await getStudy(stack.mv, studyId)).reserved, study.reserved)
  })

  it('three patients join and deliver de-identified datasets and are credited', async () => {
    for (const name of PATIENTS) {
      const patient = stack.accounts[name]!
      const before = await balance(patient.address)
      const joined = await joinAndDeliver(stack.mv, { patient, studyId, tokenIds: [records[name]!.lab, records[name]!.vaccine] })
      assert.equal(joined.amount, 2n * PRICE)
      assert.ok(joined.delivery)
      assert.equal(joined.delivery.resources, 2)
      paid[name] = {
        before,
        gas: (await gasOf(joined.joinTxHash)) + (await gasOf(joined.delivery.txHash)),
        amount: joined.amount,
        pseudonym: joined.delivery.pseudonym,
      }
    }
    const study = await getStudy(stack.mv, studyId)
    assert.equal(study.delivered, 6)
    assert.equal(study.reserved, 0)
  })

  it('the pseudonym key is stable per patient: the same pseudonym on a second preparation', async () => {
    const { studyPseudonymKey } = await import('../../src/research/studies/index.js')
    const { studyPseudonym } = await import('../../src/research/deid/index.js')
    for (const name of PATIENTS) {
      assert.equal(studyPseudonym(studyPseudonymKey(stack.accounts[name]!.encryptionSeed), studyId.toString()), paid[name]!.pseudonym)
    }
  })

  it('the researcher downloads, decrypts and verifies every dataset: no names or identifiers, one pseudonym per patient', async () => {
    const got = await downloadStudy(stack.mv, { researcher: stack.accounts.researcher!, studyId })
    assert.equal(got.deliveries.length, 3)
    assert.equal(got.resources, 6)
    const text = got.ndjson.toString('utf8')
    const lines = text.trim().split('\n')
    assert.equal(lines.length, 6)
    for (const name of PATIENTS) {
      const id = identity(name)
      for (const value of [id.fullName, id.mrn, id.lot, `${name}-1`, 'Zyxwvutsrq']) {
        assert.ok(!text.includes(value), `${value} must not reach the researcher`)
      }
    }
    const subjects = lines.map((line) => {
      const r = JSON.parse(line)
      return (r.subject ?? r.patient).reference as string
    })
    const pseudonyms = new Set(subjects)
    assert.equal(pseudonyms.size, 3, 'one pseudonym per patient, different across patients')
    for (const name of PATIENTS) assert.ok(pseudonyms.has(`Patient/${paid[name]!.pseudonym}`))
    assert.ok(got.kAnonymity.classes >= 1)

    // Only the study's researcher downloads (the datasets are sealed to its key alone).
    await assert.rejects(
      downloadStudy(stack.mv, { researcher: stack.accounts.alice!, studyId }),
      (e: Error) => e.name === 'AccessDeniedError',
    )
  })

  it('the patients withdraw their earnings, and every balance is right to the wei', async () => {
    for (const name of PATIENTS) {
      const patient = stack.accounts[name]!
      const [owed] = await earnings(stack.mv, patient.address)
      assert.equal(owed!.withdrawable, paid[name]!.amount)
      const out = await withdraw(stack.mv, { account: patient.chainAccount, asset: NATIVE_ASSET })
      assert.equal(out.amount, 2n * PRICE)
      const gas = paid[name]!.gas + (await gasOf(out.txHash))
      assert.equal(await balance(patient.address), paid[name]!.before + 2n * PRICE - gas)
      const [after] = await earnings(stack.mv, patient.address)
      assert.deepEqual([after!.withdrawable, after!.earned, after!.withdrawn], [0n, 2n * PRICE, 2n * PRICE])
    }
    // The researcher closes early and gets the unspent budget (4 records) back.
    const researcher = stack.accounts.researcher!
    const before = await balance(researcher.address)
    const closed = await closeStudy(stack.mv, { researcher: researcher.chainAccount, studyId })
    assert.equal(closed.refund, 4n * PRICE)
    const refund = await withdraw(stack.mv, { account: researcher.chainAccount, asset: NATIVE_ASSET })
    assert.equal(await balance(researcher.address), before + 4n * PRICE - (await gasOf(closed.txHash)) - (await gasOf(refund.txHash)))
    assert.equal(await balance(stack.mv.deployment.research!), 0n, 'the market holds nothing for this study any more')
  })

  describe('a study paid in an ERC-20 token (the test stablecoin, 6 decimals)', () => {
    const USD_PRICE = 2_500_000n // 2.50 tUSD per record
    const USD_RECORDS = 8
    const MINTED = 100_000_000n
    let usd: Address
    let usdStudy: bigint
    const tokens = (address: Address) =>
      stack.mv.publicClient.readContract({ address: usd, abi: erc20Abi, functionName: 'balanceOf', args: [address] })
    const native: Record<string, { before: bigint; gas: bigint }> = {}

    it('posts a study funded in tUSD: the market pulls exactly the budget from the researcher', async () => {
      const wallet = stack.mv.walletFor(registrar)
      const deployed = await stack.mv.publicClient.waitForTransactionReceipt({
        hash: await wallet.deployContract({ abi: testStablecoinAbi, bytecode: testStablecoinBytecode }),
      })
      usd = getAddress(deployed.contractAddress!)
      const researcher = stack.accounts.researcher!
      await stack.mv.publicClient.waitForTransactionReceipt({
        hash: await wallet.writeContract({
          address: usd,
          abi: testStablecoinAbi,
          functionName: 'mint',
          args: [researcher.address, MINTED],
        }),
      })
      // A protocol without coded criteria: any laboratory record qualifies.
      const posted = await postStudy(stack.mv, {
        researcher: researcher.chainAccount,
        protocolCid: await storeBytes(stack.mv.store, Buffer.from('Lipids and glucose, plain-text protocol v1')),
        descriptionHash: descriptionHash('Laboratory results, paid in tUSD'),
        categories: ['laboratory'],
        criteriaHash: criteriaHash([]),
        asset: usd,
        pricePerRecord: USD_PRICE,
        maxRecords: USD_RECORDS,
        deadline: new Date(Date.now() + 7 * 86_400_000),
      })
      usdStudy = posted.studyId
      assert.equal(posted.budget, USD_PRICE * BigInt(USD_RECORDS))
      assert.equal(await tokens(researcher.address), MINTED - posted.budget)
      assert.equal(await tokens(stack.mv.deployment.research!), posted.budget)
      const study = await getStudy(stack.mv, usdStudy)
      assert.equal(study.asset, usd)
      assert.equal(study.unreservedBudget, posted.budget)
    })

    it('three patients join and deliver their lab results (already in the native study: studies are separate)', async () => {
      for (const name of PATIENTS) {
        const patient = stack.accounts[name]!
        const before = await balance(patient.address)
        const joined = await joinAndDeliver(stack.mv, { patient, studyId: usdStudy, tokenIds: [records[name]!.lab, records[name]!.ekg] })
        assert.equal(joined.amount, 2n * USD_PRICE)
        assert.equal(joined.delivery?.resources, 2)
        assert.notEqual(joined.delivery?.pseudonym, paid[name]!.pseudonym, 'another study, another pseudonym')
        native[name] = { before, gas: (await gasOf(joined.joinTxHash)) + (await gasOf(joined.delivery!.txHash)) }
      }
      const study = await getStudy(stack.mv, usdStudy)
      assert.deepEqual([study.delivered, study.reserved, study.unreservedBudget], [6, 0, 2n * USD_PRICE])
    })

    it('the patients withdraw tUSD: token balances exact, native balances down by gas only', async () => {
      for (const name of PATIENTS) {
        const patient = stack.accounts[name]!
        const owed = await earnings(stack.mv, patient.address)
        const inUsd = owed.find((e) => e.asset === usd)!
        assert.deepEqual([inUsd.withdrawable, inUsd.earned, inUsd.withdrawn], [2n * USD_PRICE, 2n * USD_PRICE, 0n])
        assert.equal(await tokens(patient.address), 0n)
        const out = await withdraw(stack.mv, { account: patient.chainAccount, asset: usd })
        assert.equal(out.amount, 2n * USD_PRICE)
        assert.equal(await tokens(patient.address), 2n * USD_PRICE)
        assert.equal(await balance(patient.address), native[name]!.before - native[name]!.gas - (await gasOf(out.txHash)))
      }
      const researcher = stack.accounts.researcher!
      const closed = await closeStudy(stack.mv, { researcher: researcher.chainAccount, studyId: usdStudy })
      const spent = 6n * USD_PRICE
      assert.equal(closed.refund, USD_PRICE * BigInt(USD_RECORDS) - spent)
      await withdraw(stack.mv, { account: researcher.chainAccount, asset: usd })
      assert.equal(await tokens(researcher.address), MINTED - spent)
      assert.equal(await tokens(stack.mv.deployment.research!), 0n, 'the market holds no tUSD any more')
    })
  })
})

describe('the study commands of the real medvault binary', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-study-cli-'))
  const work = mkdtempSync(join(tmpdir(), 'medvault-study-out-'))
  const mv = (...args: string[]) => medvault(home, args)
  const ok = async (...args: string[]) => {
    const r = await mv(...args, '--json')
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    return r.json
  }
  after(() => {
    rmSync(home, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  })

  it('approve-researcher, post, list, eligible, join (and deliver), download, earnings --withdraw', async () => {
    for (const name of ['lab-a', 'researcher', 'alice']) await ok('account', 'create', name)
    await ok('provider', 'register', 'lab-a', '--name', 'Lab A')
    const lab = await ok('record', 'add', example('glucose.json'), '--patient', 'alice', '--as', 'lab-a')
    const vaccine = await ok('record', 'add', example('immunization.json'), '--patient', 'alice', '--as', 'lab-a')

    const protocol = join(work, 'protocol.json')
    writeFileSync(
      protocol,
      JSON.stringify({
        criteria: [
          { system: 'http://loinc.org', code: '2345-7' },
          { system: 'http://hl7.org/fhir/sid/cvx', code: '208' },
        ],
      }),
    )
    const early = await mv(
      'study',
      'post',
      '--as',
      'researcher',
      '--description',
      'x',
      '--protocol',
      protocol,
      '--categories',
      'laboratory',
      '--price',
      '5',
      '--records',
      '2',
      '--deadline',
      '30d',
      '--json',
    )
    assert.notEqual(early.code, 0, 'an unapproved researcher cannot post')

    await ok('study', 'approve-researcher', 'researcher')
    const posted = await ok(
      'study',
      'post',
      '--as',
      'researcher',
      '--description',
      'Glucose after vaccination',
      '--protocol',
      protocol,
      '--categories',
      'laboratory,immunization',
      '--price',
      '1000000',
      '--records',
      '4',
      '--deadline',
      '30d',
    )
    assert.equal(posted.budget, '4000000')
    assert.match(posted.protocolCid, /^baf/)
    const list = await ok('study', 'list')
    assert.equal(list.studies.length, 1)
    assert.equal(list.studies[0].state, 'open')
    assert.equal(list.studies[0].unreservedBudget, '4000000')
    assert.equal(list.studies[0].description, 'Glucose after vaccination', 'the CLI wrote the description into the JSON protocol')

    const counts = await ok('study', 'eligible', posted.studyId)
    assert.deepEqual([counts.categories, counts.records, counts.patients], [['laboratory', 'immunization'], '<11', '<11'])

    const joined = await ok('study', 'join', posted.studyId, '--records', `${lab.tokenId},${vaccine.tokenId}`, '--as', 'alice')
    assert.equal(joined.amount, '2000000')
    assert.equal(joined.delivery.resources, 2)

    const out = join(work, 'study.ndjson')
    const got = await ok('study', 'download', posted.studyId, '--as', 'researcher', '--out', out)
    assert.equal(got.resources, 2)
    const text = readFileSync(out, 'utf8')
    assert.equal(text.trim().split('\n').length, 2)
    assert.ok(!text.includes('Alice Example'), 'the example patient name does not reach the researcher')
    assert.ok(!text.includes('EW0150'), 'nor the lot number')
    assert.ok(text.includes(`Patient/${joined.delivery.pseudonym}`))

    const paid = await ok('earnings', '--as', 'alice', '--withdraw')
    assert.deepEqual(
      paid.withdrawals.map((w: { amount: string }) => w.amount),
      ['2000000'],
    )
    assert.equal(paid.earnings[0].withdrawable, '0')
    assert.equal(paid.earnings[0].earned, '2000000')

    const closed = await ok('study', 'close', posted.studyId, '--as', 'researcher')
    assert.equal(closed.refund, '2000000')
  })
})
