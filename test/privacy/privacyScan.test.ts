/**
 * The privacy scan (`npm run privacy-scan`, also part of `npm test`).
 *
 * A scripted session drives every CLI flow through the real `medvault` binary (account create,
 * provider register/authorize, record add/get/verify/amend/list, grant/revoke, emergency, shc
 * issue/verify, claim prove/verify, export, import of a small bundle, audit, report, erase) for a
 * patient whose FHIR resources carry distinctive identifiers (name, MRN, SSN, phone, email,
 * address, birth date), next to a running `medvault start` whose output (the server's logs) is
 * captured, and signs in to its HTTP API to read records, $everything and the audit trail.
 *
 * Then it searches, for each identifier in UTF-8, UTF-16LE/BE, hex, base64 and base64url (any
 * alignment) and hashed forms, any case:
 *   - the chain: every block, transaction calldata, receipt, event and storage slot (chainScan.ts);
 *   - the server's logs;
 *   - the index database (index.sqlite and its -wal);
 *   - every block in the IPFS blockstore (plaintext only: ciphertext is expected);
 *   - every other file in the home.
 * Files the user asked for with --out are written outside the home, and are not searched (they
 * hold the identifiers by design; the test checks they do, so the identifiers really flowed).
 * Any hit fails the test and names where it was found.
 *
 * Positive control: a "test build" of the server that logs its response bodies (a preloaded
 * debugging hook), plus identifiers planted in a home file, a plaintext IPFS block, the index and
 * a transaction: the same scan must find every one and say where.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { type Hex, toHex } from 'viem'
import { openKeystore } from '../../src/accounts/index.js'
import { createChainClients } from '../../src/chain/clients.js'
import { EMBEDDED_DEV_KEY } from '../../src/chain/embedded.js'
import { readRecordKey } from '../../src/records/envelope.js'
import { getOnChainRecord } from '../../src/records/onChainRecord.js'
import { createHeliaStore } from '../../src/storage/heliaStore.js'
import { privateKeyToAccount } from 'viem/accounts'
import {
  type ChainSnapshot,
  type Finding,
  type Needle,
  collectChain,
  formatFindings,
  patternsFor,
  scanHex,
  scanSnapshot,
  scanText,
} from '../integration/chainScan.js'
import { BIN, type CliResult, medvault, withOwnPorts } from '../integration/cli.js'
import { dedupe, filesUnder, scanFiles } from '../integration/fileScan.js'
import { sessionToken } from '../integration/server.js'

// ------------------------------------------------------------------------------------------ the patient

const NAME = 'Zebulon Quixotepants-Vardimore'
const GIVEN = 'Zebulon'
const FAMILY = 'Quixotepants-Vardimore'
const MRN = 'MRN-884422-ZQX'
const SSN = '912-45-6781'
const PHONE = '+1-555-013-7788'
const EMAIL = 'zebulon.quixotepants@wobblecrest-mail.example'
const STREET = '42 Wobblecrest Lane'
const BIRTH_DATE = '1937-03-14'

/**
 * What must never leave the patient's encrypted records. Short all-digit forms are left out: as
 * hex text (signatures, hashes, keys fill the home) six digits would match by chance.
 */
const IDENTIFIERS: Needle[] = [
  { label: 'full name', value: NAME },
  { label: 'given name', value: GIVEN },
  { label: 'surname', value: FAMILY },
  { label: 'surname part', value: 'Quixotepants' },
  { label: 'MRN', value: MRN },
  { label: 'MRN without prefix', value: '884422-ZQX' },
  { label: 'SSN', value: SSN },
  { label: 'SSN digits', value: '912456781' },
  { label: 'phone', value: PHONE },
  { label: 'phone national', value: '555-013-7788' },
  { label: 'phone digits', value: '5550137788' },
  { label: 'email', value: EMAIL },
  { label: 'email domain', value: 'wobblecrest-mail' },
  { label: 'street address', value: STREET },
  { label: 'street name', value: 'Wobblecrest' },
  { label: 'birth date', value: BIRTH_DATE },
  { label: 'birth date without dashes', value: '19370314' },
  { label: 'birth date m/d/y', value: '03/14/1937' },
]

const PASSPHRASE = 'correct-horse-battery'
const subject = { reference: 'Patient/zq', display: NAME }
const note = `${NAME}, ${MRN}, SSN ${SSN}, born ${BIRTH_DATE}; ${PHONE}, ${EMAIL}, ${STREET}.`
const patientResource = {
  resourceType: 'Patient',
  identifier: [
    { system: 'urn:oid:2.16.840.1.113883.19.5', value: MRN },
    { system: 'http://hl7.org/fhir/sid/us-ssn', value: SSN },
  ],
  name: [{ family: FAMILY, given: [GIVEN], text: NAME }],
  birthDate: BIRTH_DATE,
  telecom: [
    { system: 'phone', value: PHONE },
    { system: 'email', value: EMAIL },
  ],
  address: [{ line: [STREET], city: 'Springfield', postalCode: '99999', country: 'US' }],
}
const glucose = (value: number, status: string) => ({
  resourceType: 'Observation',
  status,
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] },
  subject,
  effectiveDateTime: '2026-11-20T08:30:00Z',
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  note: [{ text: note }],
})
const immunization = {
  resourceType: 'Immunization',
  status: 'completed',
  vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
  patient: subject,
  occurrenceDateTime: '2026-10-02',
  lotNumber: 'EW0150',
  note: [{ text: note }],
}
const consultNote = {
  resourceType: 'DocumentReference',
  status: 'current',
  type: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
  subject,
  date: '2026-11-18T16:00:00Z',
  content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(`Consult: ${note}\n`).toString('base64') } }],
}
const importBundle = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    { fullUrl: 'urn:uuid:5b0f8a52-0000-4000-8000-000000000001', resource: { ...patientResource, id: 'zq' } },
    {
      fullUrl: 'urn:uuid:5b0f8a52-0000-4000-8000-000000000002',
      resource: { ...glucose(99, 'final'), effectiveDateTime: '2025-01-02T09:00:00Z' },
    },
    {
      fullUrl: 'urn:uuid:5b0f8a52-0000-4000-8000-000000000003',
      resource: {
        resourceType: 'Condition',
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006', display: 'Diabetes mellitus type 2' }], text: note },
        subject,
      },
    },
  ],
}

// ------------------------------------------------------------------------------------------ the server

type Server = { child: ChildProcess; output: () => string; apiUrl: string; rpcUrl: string; stop: () => Promise<number> }

/** `medvault start` with its stdout and stderr captured together; `nodeOptions` preloads a test build's hooks. */
async function startServer(home: string, nodeOptions = ''): Promise<Server> {
  const ports = await withOwnPorts([])
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(nodeOptions ? ['--import', nodeOptions] : []), BIN, 'start', ...ports], {
      env: { ...process.env, MEDVAULT_HOME: home, MEDVAULT_PASSPHRASE: PASSPHRASE },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    const timer = setTimeout(() => reject(new Error(`medvault start did not come up:\n${out}`)), 90_000)
    const stop = () =>
      new Promise<number>((done) => {
        if (child.exitCode !== null) return done(child.exitCode)
        child.once('exit', (code) => done(code ?? -1))
        child.kill('SIGINT')
      })
    const onData = (d: Buffer) => {
      out += d
      if (out.includes('Press Ctrl-C to stop')) {
        clearTimeout(timer)
        const apiUrl = /api\s+(http:\/\/\S+?)\/api,/.exec(out)?.[1]
        const rpcUrl = /chain\s+(http:\/\/\S+) \(chain id/.exec(out)?.[1]
        if (!apiUrl || !rpcUrl) return reject(new Error(`cannot find the API and chain URLs in:\n${out}`))
        resolve({ child, output: () => out, apiUrl, rpcUrl, stop })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (!out.includes('Press Ctrl-C to stop')) reject(new Error(`medvault start exited with ${code}:\n${out}`))
    })
  })
}

// ------------------------------------------------------------------------------------------ the scan

type Haystacks = { chain: ChainSnapshot; serverLog: string; home: string; label: string }
type ScanResult = { chain: Finding[]; serverLog: Finding[]; index: Finding[]; ipfs: Finding[]; otherFiles: Finding[]; counts: string }

/** Searches a server's captured output, as bytes and as text. */
function scanLog(log: string, where: string, needles: Needle[], patterns = patternsFor(needles)): Finding[] {
  return dedupe([
    ...scanHex([{ where, hex: Buffer.from(log, 'utf8').toString('hex') }], patterns, needles),
    ...scanText([{ where, text: log }], needles),
  ])
}

/** Searches everything for the identifiers; findings grouped by where they were. */
function scanAll({ chain, serverLog, home, label }: Haystacks, needles: Needle[]): ScanResult {
  const patterns = patternsFor(needles)
  const logBytes = Buffer.from(serverLog, 'utf8')
  const inLog = scanLog(serverLog, `${label} server log`, needles, patterns)
  const indexFiles = filesUnder(home).filter((f) => /\/index\.sqlite(-wal|-shm)?$/.test(f))
  const blockFiles = filesUnder(join(home, 'ipfs'))
  const others = filesUnder(home, { exclude: [...indexFiles, join(home, 'ipfs')] })
  const index = scanFiles(indexFiles, home, needles, { label: 'home:', patterns })
  const ipfs = scanFiles(blockFiles, home, needles, { label: 'home:', patterns })
  const rest = scanFiles(others, home, needles, { label: 'home:', patterns })
  const c = chain.counts
  return {
    chain: scanSnapshot(chain, needles),
    serverLog: inLog,
    index: index.findings,
    ipfs: ipfs.findings,
    otherFiles: rest.findings,
    counts:
      `chain: blocks 0..${chain.toBlock}, ${c.transactions} transactions, ${c.logs} logs, ${c.storageSlots} storage slots; ` +
      `server log: ${logBytes.length} bytes; index: ${indexFiles.length} file(s), ${index.bytes} bytes; ` +
      `IPFS: ${ipfs.files} files (blocks and pins), ${ipfs.bytes} bytes; other home files: ${rest.files}, ${rest.bytes} bytes`,
  }
}

// ------------------------------------------------------------------------------------------ the session

describe('Privacy scan: no patient identifier outside the encrypted records', () => {
  let home: string
  let inputs: string
  let out: string
  let server: Server | undefined
  let serverLog = ''
  let chain: ChainSnapshot
  const tokens = { glucose: '', immunization: '', note: '', corrected: '', imported: '' }
  let erasedKey: Uint8Array = new Uint8Array()
  const steps: string[] = []

  const cli = async (args: string[], expectCode = 0): Promise<CliResult> => {
    const result = await medvault(home, [...args, '--json'])
    steps.push(args.slice(0, 2).join(' '))
    assert.equal(result.code, expectCode, `medvault ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`)
    return result
  }
  const input = (name: string, value: unknown) => {
    const file = join(inputs, name)
    writeFileSync(file, JSON.stringify(value, null, 2))
    return file
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'medvault-privacy-'))
    inputs = mkdtempSync(join(tmpdir(), 'medvault-privacy-in-'))
    out = mkdtempSync(join(tmpdir(), 'medvault-privacy-out-'))
    server = await startServer(home)

    // Commands that do not depend on each other run at once, as they may in real use.
    await Promise.all(['clinic', 'lab', 'er', 'patient', 'cardio', 'insurer', 'stranger'].map((name) => cli(['account', 'create', name])))
    await cli(['provider', 'register', 'clinic', '--name', 'Northside Family Clinic'])
    await cli(['provider', 'register', 'lab', '--name', 'Lab A'])
    await cli(['provider', 'register', 'er', '--name', 'City ER'])
    await cli(['provider', 'authorize', 'lab', '--as', 'patient', '--days', '30'])

    tokens.glucose = (
      await cli(['record', 'add', input('glucose.json', glucose(112, 'final')), '--patient', 'patient', '--as', 'clinic'])
    ).json.tokenId
    tokens.immunization = (
      await cli(['record', 'add', input('immunization.json', immunization), '--patient', 'patient', '--as', 'clinic'])
    ).json.tokenId
    tokens.note = (await cli(['record', 'add', input('note.json', consultNote), '--patient', 'patient', '--as', 'clinic'])).json.tokenId
    await Promise.all([
      cli(['record', 'list', '--patient', 'patient']),
      cli(['record', 'get', tokens.glucose, '--as', 'patient']),
      cli(['record', 'get', tokens.note, '--as', 'patient', '--out', join(out, 'note.json')]),
      cli(['record', 'verify', tokens.glucose]),
      cli(['record', 'verify', tokens.glucose, '--as', 'patient', '--file', join(inputs, 'glucose.json')]),
    ])
    tokens.corrected = (
      await cli(['record', 'amend', tokens.glucose, input('corrected.json', glucose(92, 'corrected')), '--as', 'clinic'])
    ).json.tokenId

    // Sharing: a grant used, a grant revoked and refused after, a stranger refused, break-glass.
    await cli(['grant', '--record', tokens.glucose, '--to', 'cardio', '--for', '7d', '--as', 'patient'])
    await cli(['record', 'get', tokens.glucose, '--as', 'cardio'])
    const payment = await cli([
      'grant',
      '--category',
      'laboratory',
      '--to',
      'insurer',
      '--for',
      '1d',
      '--purpose',
      'payment',
      '--as',
      'patient',
    ])
    await cli(['record', 'get', tokens.corrected, '--as', 'insurer'])
    await cli(['revoke', payment.json.grant.grantId, '--as', 'patient'])
    await cli(['record', 'get', tokens.corrected, '--as', 'insurer'], 3)
    await cli(['record', 'get', tokens.note, '--as', 'stranger'], 3)
    await cli(['grants', '--patient', 'patient'])
    await cli(['emergency', 'allow', 'er'])
    await cli(['emergency', 'open', '--patient', 'patient', '--as', 'er', '--reason', 'unresponsive on arrival, suspected hypoglycaemia'])
    await cli(['record', 'get', tokens.immunization, '--as', 'er'])

    // A SMART Health Card and a proof of treatment.
    await cli(['grant', '--record', tokens.immunization, '--to', 'clinic', '--for', '1h', '--as', 'patient'])
    const patientFile = input('patient.json', patientResource)
    await cli(['shc', 'issue', tokens.immunization, '--as', 'clinic', '--patient-file', patientFile, '--out', join(out, 'card')])
    await cli(['shc', 'verify', join(out, 'card.smart-health-card')])
    await cli([
      'claim',
      'prove',
      tokens.immunization,
      '--fields',
      '/vaccineCode/coding/0/code,/occurrenceDateTime',
      '--for',
      'insurer',
      '--as',
      'patient',
      '--out',
      join(out, 'claim.json'),
    ])
    await cli(['claim', 'verify', join(out, 'claim.json'), '--as', 'insurer'])

    // Portability, a bulk import, the trail, the report.
    await cli(['export', '--patient', 'patient', '--as', 'patient', '--out', join(out, 'export.json')])
    const imported = await cli(['import', input('bundle.json', importBundle), '--patient', 'patient', '--as', 'lab'])
    tokens.imported = imported.json.records[0].tokenId
    await Promise.all([
      cli(['audit', '--patient', 'patient', '--verify']),
      cli(['report', '--as', 'patient', '--out', join(out, 'report.pdf')]),
      cli(['report', '--as', 'patient', '--out', join(out, 'report.json')]),
      cli(['index', 'status']),
    ])

    // The HTTP API, signed in as the patient (the server holds her keys) and as a stranger.
    const keys = openKeystore(join(home, 'accounts'))
    const patient = await keys.unlock('patient', PASSPHRASE)
    const stranger = await keys.unlock('stranger', PASSPHRASE)
    const api = server.apiUrl
    const as = async (account: typeof patient) => ({ authorization: `Bearer ${await sessionToken(api, account.chainAccount)}` })
    const mine = await as(patient)
    const get = async (path: string, headers: Record<string, string>, status = 200) => {
      const res = await fetch(`${api}${path}`, { headers })
      const body = await res.text()
      assert.equal(res.status, status, `GET ${path}: ${res.status} ${body.slice(0, 300)}`)
      steps.push(`GET ${path.replace(/0x[0-9a-fA-F]{40}/, '{patient}')}`)
      return body
    }
    await get('/api/me', mine)
    await get(`/api/patients/${patient.address}/records`, mine)
    await get(`/api/records/${tokens.glucose}`, mine)
    assert.ok((await get(`/api/records/${tokens.glucose}/content`, mine)).includes(NAME), 'the API really served the identifiers')
    await get(`/fhir/Patient/${patient.address}/$everything`, mine)
    await get(`/fhir/Observation?patient=${patient.address}&code=2345-7`, mine)
    await get('/api/audit', mine)
    await get(`/api/records/${tokens.glucose}/content`, await as(stranger), 403)

    // Erasure, last: the erased record is gone for everyone, through the CLI and the API, and its
    // key from every store (taken here first, to search for it afterwards).
    const deployment = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).deployment
    const noteRecord = await getOnChainRecord(
      { publicClient: createChainClients(server.rpcUrl, 31337).publicClient, deployment },
      BigInt(tokens.note),
    )
    const ipfs = await createHeliaStore(join(home, 'ipfs'))
    erasedKey = await readRecordKey(ipfs.cat(noteRecord.cid), patient)
    await ipfs.close()
    await cli(['erase', tokens.note, '--as', 'patient'])
    for (const reader of ['patient', 'clinic']) {
      const refused = await cli(['record', 'get', tokens.note, '--as', reader], 5)
      assert.equal(refused.json.error.code, 'ERASED')
    }
    await get(`/api/records/${tokens.note}/content`, mine, 410)

    chain = await collectChain(server.rpcUrl)
    await server.stop()
    serverLog = server.output()
    server = undefined
  })

  after(async () => {
    await server?.stop()
    for (const dir of [home, inputs, out]) if (dir) rmSync(dir, { recursive: true, force: true })
  })

  let result: ScanResult
  it('ran every flow, and the identifiers really went through (they are in what the user asked for with --out)', (t) => {
    result = scanAll({ chain, serverLog, home, label: 'medvault start' }, IDENTIFIERS)
    t.diagnostic(`${steps.length} steps: ${[...new Set(steps)].join(', ')}`)
    t.diagnostic(result.counts)
    // (The health card is deflated and base64url-encoded, so its identifiers do not show as text.)
    for (const file of ['note.json', 'export.json', 'claim.json']) {
      const found = scanFiles([join(out, file)], out, IDENTIFIERS).findings
      if (file === 'claim.json') assert.equal(found.length, 0, 'the claim discloses only the chosen fields')
      else assert.ok(found.length > 0, `${file} should hold the patient's identifiers (they flowed through the run)`)
    }
    // The scripted flows send about 30 transactions; audit anchoring adds one or two depending on timing, so the floor leaves room.
    assert.ok(chain.counts.transactions >= 25, `the run made too few transactions: ${chain.counts.transactions}`)
  })

  for (const [key, what] of [
    ['chain', 'the chain: blocks, calldata, receipts, events, storage, traces'],
    ['serverLog', "the server's logs"],
    ['index', 'the index database'],
    ['ipfs', 'the IPFS blockstore (plaintext)'],
    ['otherFiles', 'every other file in the home'],
  ] as const) {
    it(`finds no identifier in ${what}`, () => {
      assert.equal(result[key].length, 0, `patient identifiers found in ${what}:\n${formatFindings(result[key])}`)
    })
  }

  it("leaves no copy of the erased record's key in the home (keystore, slips, index, IPFS), the server log or the chain", () => {
    assert.equal(erasedKey.length, 32)
    const needles: Needle[] = [{ label: 'erased record key', bytes: erasedKey }]
    const found = [
      ...scanFiles(filesUnder(home), home, needles, { label: 'home:' }).findings,
      ...scanLog(serverLog, 'medvault start server log', needles),
      ...scanSnapshot(chain, needles),
    ]
    assert.equal(found.length, 0, `key material of the erased record:\n${formatFindings(found)}`)
  })

  it('positive control: a server build that logs response bodies, and planted identifiers, are all caught and located', async (t) => {
    const leaky = await startServer(home, fileURLToPath(new URL('./leakyLogger.mjs', import.meta.url)))
    try {
      const keys = openKeystore(join(home, 'accounts'))
      const patient = await keys.unlock('patient', PASSPHRASE)
      const token = await sessionToken(leaky.apiUrl, patient.chainAccount)
      const res = await fetch(`${leaky.apiUrl}/api/records/${tokens.glucose}/content`, { headers: { authorization: `Bearer ${token}` } })
      assert.equal(res.status, 200)
      await res.text()

      // Planted: a home file (UTF-16LE), a plaintext IPFS block, an index row, and calldata on chain.
      writeFileSync(join(home, 'debug-dump.txt'), Buffer.from(`patient ${NAME}`, 'utf16le'))
      const store = await createHeliaStore(join(home, 'ipfs'))
      const plaintextCid = await store.add(
        (async function* () {
          yield Buffer.from(JSON.stringify(patientResource))
        })(),
      )
      await store.close()
      const db = new Database(join(home, 'index.sqlite'))
      db.exec(`CREATE TABLE IF NOT EXISTS privacy_canary (value TEXT); INSERT INTO privacy_canary VALUES ('contact: ${EMAIL}')`)
      db.close()
      const clients = createChainClients(leaky.rpcUrl, 31337)
      const dev = privateKeyToAccount(EMBEDDED_DEV_KEY)
      const hash = await clients.walletFor(dev).sendTransaction({ to: patient.address, value: 1n, data: toHex(MRN) as Hex })
      await clients.publicClient.waitForTransactionReceipt({ hash })

      const control = scanAll({ chain: await collectChain(leaky.rpcUrl), serverLog: '', home, label: 'leaky' }, IDENTIFIERS)
      await leaky.stop()
      const log = { serverLog: scanLog(leaky.output(), 'leaky build server log', IDENTIFIERS) }
      const caught = (findings: Finding[], where: RegExp, needle: string) =>
        assert.ok(
          findings.some((f) => where.test(f.where) && f.needle === needle),
          `the scan missed "${needle}" in ${where}; it found:\n${formatFindings(findings)}`,
        )
      caught(log.serverLog, /^leaky build server log$/, 'full name')
      caught(log.serverLog, /^leaky build server log$/, 'SSN')
      caught(control.otherFiles, /^home:debug-dump\.txt$/, 'full name')
      caught(control.ipfs, /^home:ipfs\/blocks\//, 'birth date')
      caught(control.ipfs, /^home:ipfs\/blocks\//, 'email')
      caught(control.index, /^home:index\.sqlite(-wal)?$/, 'email')
      caught(control.chain, /\.input$/, 'MRN')
      t.diagnostic(`the leaky build's log:\n${formatFindings(log.serverLog, 4)}`)
      t.diagnostic(
        `planted (IPFS block ${plaintextCid}):\n${formatFindings([...control.otherFiles, ...control.ipfs, ...control.index, ...control.chain], 8)}`,
      )
    } finally {
      await leaky.stop()
    }
  })
})
