import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { canonicalFhirBytes, parseFhirResource } from '../../src/fhir/index.js'
import { openKeystore } from '../../src/accounts/index.js'
import { medvault, startMedvault } from './cli.js'
import { sessionToken } from './server.js'

const example = (name: string) => fileURLToPath(new URL(`../../examples/fhir/${name}`, import.meta.url))

describe('the medvault CLI, end to end', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-cli-'))
  const work = mkdtempSync(join(tmpdir(), 'medvault-cli-out-'))
  /** Every file in the home, by path: a refused command must leave this list exactly as it was. */
  const homeFiles = () =>
    (readdirSync(home, { recursive: true }) as string[]).filter((f) => statSync(join(home, f), { throwIfNoEntry: false })?.isFile()).sort()
  /** Runs the CLI; when it refuses (a non-zero exit), checks it left no file behind and took none away. */
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const before = homeFiles()
    const r = await medvault(home, args, env)
    if (r.code !== 0) assert.deepEqual(homeFiles(), before, `\`medvault ${args.join(' ')}\` (exit ${r.code}) changed the home's files`)
    return r
  }
  const mv = (...args: string[]) => run(args)
  after(() => {
    rmSync(home, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  })

  before(async () => {
    for (const name of ['lab-a', 'alice', 'bob']) {
      const r = await mv('account', 'create', name, '--json')
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.json.account.address, /^0x[0-9a-fA-F]{40}$/)
    }
    const reg = await mv('provider', 'register', 'lab-a', '--name', 'Lab A', '--json')
    assert.equal(reg.code, 0, reg.stderr)
  })

  it('adds, lists, reads (to --out), verifies and amends a FHIR record', async () => {
    const add = await mv('record', 'add', example('glucose.json'), '--patient', 'alice', '--as', 'lab-a', '--json')
    assert.equal(add.code, 0, add.stderr)
    const tokenId = add.json.tokenId as string
    assert.match(add.json.cid, /^baf/)
    assert.match(add.json.commitment, /^0x[0-9a-f]{64}$/)
    assert.equal(add.json.category, 'laboratory')

    const list = await mv('record', 'list', '--patient', 'alice', '--json')
    assert.deepEqual(
      list.json.records.map((r: { tokenId: string }) => r.tokenId),
      [tokenId],
    )
    assert.equal(list.json.records[0].issuerName, 'Lab A')

    const out = join(work, 'glucose.json')
    const get = await mv('record', 'get', tokenId, '--as', 'alice', '--out', out, '--json')
    assert.equal(get.code, 0, get.stderr)
    assert.deepEqual(readFileSync(out), Buffer.from(canonicalFhirBytes(parseFhirResource(readFileSync(example('glucose.json'))))))

    const human = await mv('record', 'verify', tokenId, '--as', 'alice', '--file', example('glucose.json'))
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /VALID/)
    assert.match(human.stdout, /The file is exactly this record's content/)

    const amend = await mv('record', 'amend', tokenId, example('glucose-corrected.json'), '--as', 'lab-a', '--json')
    assert.equal(amend.code, 0, amend.stderr)
    assert.equal(amend.json.supersedes, tokenId)
    const verify = await mv('record', 'verify', tokenId, '--json')
    assert.equal(verify.json.valid, true)
    assert.equal(verify.json.supersededBy, amend.json.tokenId)
  })

  it('refuses a reader who is not allowed, with a one-line error and exit code 3', async () => {
    const r = await mv('record', 'get', '1', '--as', 'bob')
    assert.equal(r.code, 3)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.match(r.stderr, /may not read record #1/)
    const j = await mv('record', 'get', '1', '--as', 'bob', '--json')
    assert.equal(j.json.error.code, 'ACCESS_DENIED')
  })

  // Findings 4: a non-provider's `record add` exited 4 (tampered/untrusted) and left an empty operation journal;
  // a token id of 2^256 exited 6 (chain) with viem's range message. `run` checks the home's files.
  it('refuses a non-provider issuing (exit 3) and a token id past uint256 (exit 2), leaving no file behind', async () => {
    const add = await mv('record', 'add', example('glucose.json'), '--patient', 'alice', '--as', 'bob', '--json')
    assert.equal(add.code, 3, add.stderr)
    assert.equal(add.json.error.code, 'NOT_A_PROVIDER')
    assert.match(add.json.error.message, /is not an active provider/)
    const huge = (2n ** 256n).toString()
    const get = await mv('record', 'get', huge, '--as', 'alice')
    assert.equal(get.code, 2, get.stderr)
    assert.match(get.stderr, /is not a record token id/)
    assert.doesNotMatch(get.stderr, /safe 256-bit|chain/)
    assert.equal(
      (await mv('record', 'get', (2n ** 256n - 1n).toString(), '--as', 'alice')).code,
      5,
      'the largest id is a question for the chain',
    )
  })

  it('stores a binary document as a stream and returns it byte for byte', async () => {
    const file = join(work, 'scan.dcm')
    const bytes = randomBytes(3 * 1024 * 1024 + 123)
    writeFileSync(file, bytes)
    const missing = await mv('record', 'add', file, '--patient', 'alice', '--as', 'lab-a')
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /--content-type/)
    const add = await mv(
      'record',
      'add',
      file,
      '--patient',
      'alice',
      '--as',
      'lab-a',
      '--content-type',
      'application/dicom',
      '--category',
      'imaging',
      '--json',
    )
    assert.equal(add.code, 0, add.stderr)
    const out = join(work, 'scan-back.dcm')
    const get = await mv('record', 'get', add.json.tokenId, '--as', 'alice', '--out', out, '--json')
    assert.equal(get.code, 0, get.stderr)
    assert.equal(get.json.contentType, 'application/dicom')
    assert.deepEqual(readFileSync(out), bytes)
  })

  it('rejects malformed FHIR with a clear error and leaves the state as it was', async () => {
    const before = (await mv('status', '--json')).json.records
    const bad = join(work, 'bad.json')
    writeFileSync(bad, JSON.stringify({ resourceType: 'Observation', status: 42, subject: { display: 'Alice Example' } }))
    const r = await mv('record', 'add', bad, '--patient', 'alice', '--as', 'lab-a')
    assert.equal(r.code, 2)
    assert.doesNotMatch(r.stderr, /Alice Example/)
    const wrongPass = await run(['record', 'get', '1', '--as', 'alice'], { MEDVAULT_PASSPHRASE: 'not-the-passphrase' })
    assert.equal(wrongPass.code, 3)
    assert.match(wrongPass.stderr, /passphrase does not open account "alice"/)
    assert.equal((await mv('status', '--json')).json.records, before)
  })

  it('shares with a grant, and the audit trail shows allowed and denied reads and detects tampering', async () => {
    const grant = await mv('grant', '--record', '1', '--to', 'bob', '--for', '1h', '--as', 'alice', '--json')
    assert.equal(grant.code, 0, grant.stderr)
    assert.equal(grant.json.keysReleased, 1)
    assert.equal((await mv('record', 'get', '1', '--as', 'bob', '--json')).code, 0)
    const revoke = await mv('revoke', grant.json.grant.grantId, '--as', 'alice')
    assert.equal(revoke.code, 0, revoke.stderr)
    assert.equal((await mv('record', 'get', '1', '--as', 'bob')).code, 3)

    const trail = await mv('audit', '--record', '1', '--anchor', '--json')
    assert.equal(trail.code, 0, trail.stderr)
    const bob = (await mv('account', 'list', '--json')).json.accounts.find((a: { name: string }) => a.name === 'bob').address
    const outcomes = trail.json.entries.filter((e: { actor: string }) => e.actor === bob).map((e: { outcome: string }) => e.outcome)
    assert.ok(outcomes.includes('allowed') && outcomes.includes('denied'), outcomes.join(','))
    assert.equal((await mv('audit', '--verify', '--json')).json.verification.ok, true)
    const receipt = await mv('audit', '--receipt', String(trail.json.entries[0].seq), '--json')
    assert.equal(receipt.code, 0, receipt.stderr)
    assert.equal(receipt.json.receiptCheck.ok, true)

    const logFile = join(home, 'audit', 'log.jsonl')
    const original = readFileSync(logFile, 'utf8')
    const lines = original.trimEnd().split('\n')
    const line = lines[1]!
    lines[1] = line.includes('"allowed"') ? line.replace('"allowed"', '"denied"') : line.replace('"denied"', '"allowed"')
    assert.notEqual(lines[1], line)
    writeFileSync(logFile, `${lines.join('\n')}\n`)
    const tampered = await mv('audit', '--verify')
    assert.equal(tampered.code, 4)
    assert.match(tampered.stdout, /AUDIT LOG TAMPERED/)
    writeFileSync(logFile, original)
  })

  it('issues a SMART Health Card from a shared record and verifies it from the file and from the QR text', async () => {
    assert.equal((await mv('grant', '--record', '1', '--to', 'lab-a', '--for', '1h', '--as', 'alice')).code, 0)
    const patientFile = join(work, 'patient.json')
    writeFileSync(
      patientFile,
      JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Example', given: ['Alice'] }], birthDate: '1990-04-01' }),
    )
    const out = join(work, 'card')
    const issued = await mv('shc', 'issue', '1', '--as', 'lab-a', '--patient-file', patientFile, '--out', out, '--json')
    assert.equal(issued.code, 0, issued.stderr)
    assert.deepEqual(readFileSync(`${out}.png`).subarray(1, 4), Buffer.from('PNG'))
    const fromFile = await mv('shc', 'verify', `${out}.smart-health-card`)
    assert.equal(fromFile.code, 0, fromFile.stdout + fromFile.stderr)
    assert.match(fromFile.stdout, /VALID SMART Health Card[\s\S]*trusted via medvault provider registry/)
    const qrText = readFileSync(`${out}.txt`, 'utf8').trim()
    assert.match(qrText, /^shc:\/\d+$/)
    assert.equal((await mv('shc', 'verify', qrText, '--json')).json.valid, true)
    const matches = await mv('shc', 'verify', `${out}.smart-health-card`, '--record', '1', '--as', 'alice', '--json')
    assert.equal(matches.json.valid, true, JSON.stringify(matches.json.checks))
    assert.equal(matches.json.checks.at(-1).id, 'record')
    const other = await mv('shc', 'verify', `${out}.smart-health-card`, '--record', '2', '--as', 'alice', '--json')
    assert.equal(other.json.valid, false, 'record #2 is not on this card')
    const snapshot = join(work, 'trust.json')
    assert.equal((await mv('shc', 'trust-snapshot', '--out', snapshot)).code, 0)
    const elsewhere = mkdtempSync(join(tmpdir(), 'medvault-border-post-'))
    const offline = await medvault(elsewhere, [
      'shc',
      'verify',
      `${out}.smart-health-card`,
      '--trust-list',
      snapshot,
      '--offline',
      '--json',
    ])
    assert.equal(offline.json.valid, true, offline.stdout)
    assert.match(offline.json.issuer.source, /VCI directory/)
    assert.deepEqual(readdirSync(elsewhere), [], 'offline verification touches no home and no chain')
    rmSync(elsewhere, { recursive: true })
    const [head, payload, sig] = JSON.parse(readFileSync(`${out}.smart-health-card`, 'utf8')).verifiableCredential[0].split('.')
    const forged = `${head}.${payload.slice(0, -4)}AAAA.${sig}`
    const bad = await mv('shc', 'verify', forged)
    assert.equal(bad.code, 4)
    assert.match(bad.stdout, /NOT VALID/)
  })

  it('proves treatment to an insurer with only the chosen fields, and refuses a replay', async () => {
    assert.equal((await mv('account', 'create', 'insurer')).code, 0)
    const claim = join(work, 'claim.json')
    const prove = await mv(
      'claim',
      'prove',
      '1',
      '--fields',
      '/code/coding/0/code,/effectiveDateTime',
      '--for',
      'insurer',
      '--as',
      'alice',
      '--out',
      claim,
    )
    assert.equal(prove.code, 0, prove.stderr)
    const verify = await mv('claim', 'verify', claim, '--as', 'insurer', '--json')
    assert.equal(verify.json.valid, true, JSON.stringify(verify.json.checks))
    assert.deepEqual(Object.keys(verify.json.disclosed[0].fields), ['/code/coding/0/code', '/effectiveDateTime'])
    const replay = await mv('claim', 'verify', claim, '--as', 'insurer')
    assert.equal(replay.code, 4)
    assert.match(replay.stdout, /✗ This presentation has not been used before/)
    assert.equal((await mv('claim', 'verify', claim, '--as', 'bob')).code, 4, 'addressed to another insurer')
  })

  it('two commands at once do not corrupt the home (they share the chain under a lock)', async () => {
    const [a, b] = await Promise.all([
      mv('record', 'add', example('immunization.json'), '--patient', 'alice', '--as', 'lab-a', '--json'),
      mv('record', 'add', example('glucose.json'), '--patient', 'bob', '--as', 'lab-a', '--json'),
    ])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    assert.notEqual(a.json.tokenId, b.json.tokenId)
    assert.equal((await mv('record', 'get', b.json.tokenId, '--as', 'bob', '--json')).json.verified, true)
  })

  it('talks to a running `medvault start`, and everything survives its stop', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000))
    const server = await startMedvault(home, ['--port', port])
    try {
      assert.match(server.output(), new RegExp(`127\\.0\\.0\\.1:${port}`))
      const status = await mv('status', '--json')
      assert.equal(status.json.running.rpcUrl, `http://127.0.0.1:${port}`)
      const [x, y] = await Promise.all([
        mv('record', 'add', example('immunization.json'), '--patient', 'alice', '--as', 'lab-a', '--json'),
        mv('record', 'add', example('immunization.json'), '--patient', 'bob', '--as', 'lab-a', '--json'),
      ])
      assert.equal(x.code, 0, x.stderr)
      assert.equal(y.code, 0, y.stderr)
      // Its HTTP API: the FHIR facade serves alice her history once she signs in with her key.
      const api = /api\s+(http:\/\/\S+)\/api/.exec(server.output())?.[1]
      assert.ok(api, server.output())
      assert.equal((await fetch(`${api}/fhir/metadata`)).status, 200)
      const alice = await openKeystore(join(home, 'accounts')).unlock('alice', 'correct-horse-battery')
      const token = await sessionToken(api, alice.chainAccount)
      const everything = (await (
        await fetch(`${api}/fhir/Patient/${alice.address}/$everything`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as {
        entry: { resource: { resourceType: string } }[]
      }
      assert.ok(everything.entry.some((e) => e.resource.resourceType === 'Immunization'))
      const again = await startMedvault(home).then(
        () => 'started twice',
        (e: Error) => e.message,
      )
      assert.match(again, /already running/)
    } finally {
      assert.equal(await server.stop(), 0)
    }
    assert.equal(existsSync(join(home, 'run.json')), false)
    const list = await mv('record', 'list', '--patient', 'alice', '--json')
    for (const r of list.json.records) {
      const v = await mv('record', 'verify', r.tokenId, '--as', 'alice', '--json')
      assert.equal(v.json.valid, true, JSON.stringify(v.json.checks))
    }
    assert.equal(
      readdirSync(work).some((f) => f.endsWith('.partial')),
      false,
    )
  })

  it("exports a patient's verified history as a FHIR Bundle, and refuses an account with no grant", async () => {
    const out = join(work, 'alice-history.json')
    const r = await mv('export', '--patient', 'alice', '--as', 'alice', '--out', out, '--json')
    assert.equal(r.code, 0, r.stderr)
    const bundle = JSON.parse(readFileSync(out, 'utf8')) as {
      resourceType: string
      type: string
      entry: { resource: { resourceType: string; id: string; meta: { versionId: string } } }[]
    }
    assert.equal(bundle.resourceType, 'Bundle')
    assert.equal(bundle.type, 'collection')
    const list = await mv('record', 'list', '--patient', 'alice', '--json')
    assert.equal(r.json.records, list.json.records.length)
    // Every record once, as a version of its logical resource: an amendment is version 2 of the
    // record it corrects (its logical id is the first version's token id).
    type Listed = { tokenId: string; supersedes: string }
    const records = new Map((list.json.records as Listed[]).map((x) => [x.tokenId, x]))
    const amends = (x: Listed) => x.supersedes !== '0'
    const versionOf = (x: Listed): [string, number] => {
      const before = amends(x) ? records.get(x.supersedes) : undefined
      if (!before) return [x.tokenId, 1]
      const [id, n] = versionOf(before)
      return [id, n + 1]
    }
    assert.deepEqual(
      bundle.entry
        .filter((e) => e.resource.resourceType !== 'Patient')
        .map((e) => `${e.resource.id}/_history/${e.resource.meta.versionId}`)
        .sort(),
      [...records.values()].map((x) => versionOf(x).join('/_history/')).sort(),
    )
    assert.ok([...records.values()].some(amends), 'the history holds an amendment (its versions are what this checks)')
    const refused = await mv('export', '--patient', 'alice', '--as', 'bob', '--out', join(work, 'nope.json'))
    assert.equal(refused.code, 3, refused.stderr)
    assert.equal(existsSync(join(work, 'nope.json')), false)
  })
})
