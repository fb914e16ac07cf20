import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createTestClient, getAddress, http } from 'viem'
import { openKeystore } from '../../src/accounts/index.js'
import { type EmbeddedChain, startAnvil } from '../../src/chain/anvil.js'
import { formatFindings } from './chainScan.js'
import { medvault } from './cli.js'
import { scanFiles } from './fileScan.js'

const example = (name: string) => fileURLToPath(new URL(`../../examples/fhir/${name}`, import.meta.url))

describe('backup, account remove and restore (the real CLI on a separately started anvil)', () => {
  const root = mkdtempSync(join(tmpdir(), 'medvault-backup-'))
  const homeA = join(root, 'a')
  const mvA = (...args: string[]) => medvault(homeA, args)
  const backupFile = join(root, 'pat.backup.json')
  const docBackup = join(root, 'doc.backup.json')
  let chain: EmbeddedChain
  let labToken: string
  let noteToken: string
  const PASS = 'correct-horse-battery' // what medvault() puts in MEDVAULT_PASSPHRASE
  /** A tag secret doc keeps as if it had taken over another account's records (a rotation or recovery). */
  const docTagSecret = randomBytes(32)
  const addressOf = (home: string, name: string) => getAddress(openKeystore(join(home, 'accounts')).get(name).address)

  before(async () => {
    chain = await startAnvil({ chainId: 4343 })
    assert.equal((await mvA('init', '--rpc-url', chain.rpcUrl, '--chain-id', '4343')).code, 0)
    const test = createTestClient({ mode: 'anvil', transport: http(chain.rpcUrl) })
    for (const name of ['admin', 'lab', 'pat', 'doc']) {
      const created = await mvA('account', 'create', name, '--json')
      assert.equal(created.code, 0, created.stderr)
      await test.setBalance({ address: created.json.account.address, value: 10n ** 18n })
    }
    assert.equal((await mvA('deploy', '--as', 'admin')).code, 0)
    for (const name of ['lab', 'pat', 'doc']) assert.equal((await mvA('account', 'publish', name)).code, 0)
    assert.equal((await mvA('provider', 'register', 'lab', '--name', 'Backup Lab', '--as', 'admin')).code, 0)
    // A standing authorisation seals pat's tag table to lab: pat's backup must carry it.
    const authorized = await mvA('provider', 'authorize', 'lab', '--as', 'pat', '--json')
    assert.equal(authorized.code, 0, authorized.stderr)
    await openKeystore(join(homeA, 'accounts')).setTagSecret('doc', PASS, docTagSecret)
    const lab = await mvA('record', 'add', example('glucose.json'), '--patient', 'pat', '--as', 'lab', '--json')
    assert.equal(lab.code, 0, lab.stderr)
    labToken = lab.json.tokenId
    const note = await mvA('record', 'add', example('immunization.json'), '--patient', 'pat', '--as', 'lab', '--json')
    assert.equal(note.code, 0, note.stderr)
    noteToken = note.json.tokenId
    // doc reads the lab result through a key slip wrapped to it: its backup must carry that slip.
    const grant = await mvA('grant', '--record', labToken, '--to', 'doc', '--for', '30d', '--as', 'pat')
    assert.equal(grant.code, 0, grant.stderr)
    // A break-glass window on pat: its reason's salt is kept in the home, and pat's backup must carry it.
    assert.equal((await mvA('emergency', 'allow', 'lab', '--as', 'admin')).code, 0)
    const opened = await mvA('emergency', 'open', '--patient', 'pat', '--as', 'lab', '--reason', 'unconscious on arrival', '--json')
    assert.equal(opened.code, 0, opened.stderr)
  })
  after(async () => {
    await chain.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('backs up an account with no plaintext health data in the file, and never overwrites without --force', async () => {
    const made = await mvA('backup', '--as', 'pat', '--out', backupFile, '--json')
    assert.equal(made.code, 0, made.stderr)
    assert.equal(made.json.counts.ciphertexts, 2)
    assert.equal(made.json.network.chain.rpcUrl, chain.rpcUrl)
    const doc = await mvA('backup', '--as', 'doc', '--out', docBackup, '--json')
    assert.equal(doc.code, 0, doc.stderr)
    assert.equal(doc.json.counts.keySlips, 1)
    assert.equal(doc.json.counts.ciphertexts, 1)
    assert.equal(made.json.counts.emergencyReasons, 1, 'the salt of the window opened on pat (a backup without it lost it)')
    assert.equal(doc.json.counts.emergencyReasons, 0, 'doc was party to no window')
    assert.ok(made.json.counts.tagTables >= 1, 'the tag table pat sealed to lab')
    const tables = JSON.parse(readFileSync(backupFile, 'utf8')).backup.tagTables as { patient: string; reader: string }[]
    assert.ok(tables.some((t) => t.patient === addressOf(homeA, 'pat') && t.reader === addressOf(homeA, 'lab')))
    assert.ok(
      tables.every((t) => t.patient === addressOf(homeA, 'pat') || t.reader === addressOf(homeA, 'pat')),
      "no one else's tables",
    )

    const again = await mvA('backup', '--as', 'pat', '--out', backupFile)
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists.*--force/)

    // The records' contents, in every encoding the privacy scans know, are nowhere in the backup.
    const needles = [
      { label: 'lot number', value: 'EW0150' },
      { label: 'vaccine', value: 'COVID-19, mRNA' },
      { label: 'patient name', value: 'Alice Example' },
      { label: 'glucose test', value: 'Glucose [Mass/volume]' },
    ]
    const scan = scanFiles([backupFile, docBackup], root, needles)
    assert.equal(scan.findings.length, 0, formatFindings(scan.findings))
    // Positive control: the same scan finds a needle planted in a copy.
    const planted = join(root, 'planted.json')
    writeFileSync(planted, readFileSync(backupFile, 'utf8').replace('"createdAt"', '"x":"Alice Example","createdAt"'))
    assert.ok(scanFiles([planted], root, needles).findings.length > 0)
    rmSync(planted)
  })

  it('refuses to remove an account without --yes, saying what would be lost', async () => {
    const refused = await mvA('account', 'remove', 'pat')
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /chain key.*encryption key.*--yes/s)
    assert.ok(existsSync(join(homeA, 'accounts', 'pat.json')))
  })

  it('keys removed, then restored in the same home: the records read again; a second restore changes nothing', async () => {
    const removed = await mvA('account', 'remove', 'pat', '--yes', '--json')
    assert.equal(removed.code, 0, removed.stderr)
    const gone = await mvA('record', 'get', labToken, '--as', 'pat')
    assert.equal(gone.code, 5, 'no keys, no read')

    const restored = await mvA('restore', backupFile, '--json')
    assert.equal(restored.code, 0, restored.stderr)
    assert.equal(restored.json.keysRestored, true)
    assert.equal(restored.json.configWritten, false)
    for (const token of [labToken, noteToken]) {
      const get = await mvA('record', 'get', token, '--as', 'pat', '--json')
      assert.equal(get.code, 0, get.stderr)
    }
    const before = readFileSync(join(homeA, 'accounts', 'pat.json'), 'utf8')
    const twice = await mvA('restore', backupFile, '--json')
    assert.equal(twice.code, 0, twice.stderr)
    assert.equal(twice.json.keysRestored, false)
    assert.equal(readFileSync(join(homeA, 'accounts', 'pat.json'), 'utf8'), before)
  })

  it('restored in a fresh home that joins the same chain: records and shared records read there', async () => {
    const homeB = join(root, 'b')
    const mvB = (...args: string[]) => medvault(homeB, args)
    assert.equal((await mvB('init', '--rpc-url', chain.rpcUrl, '--chain-id', '4343')).code, 0)
    const restored = await mvB('restore', backupFile, '--json')
    assert.equal(restored.code, 0, restored.stderr)
    assert.equal(restored.json.configWritten, true, 'the deployment comes from the backup')
    // The sealed tag table pat gave lab came along, byte for byte.
    const table = join('tag-tables', addressOf(homeA, 'pat'), `${addressOf(homeA, 'lab')}.bin`)
    assert.deepEqual(readFileSync(join(homeB, table)), readFileSync(join(homeA, table)))
    const get = await mvB('record', 'get', noteToken, '--as', 'pat', '--json')
    assert.equal(get.code, 0, get.stderr)
    assert.equal(get.json.document.lotNumber, 'EW0150')
    // The salt of the break-glass reason came along: the same file as in the home it was kept in.
    const kept = readdirSync(join(homeA, 'emergencies'))
    assert.equal(kept.length, 1)
    assert.deepEqual(
      JSON.parse(readFileSync(join(homeB, 'emergencies', kept[0]!), 'utf8')),
      JSON.parse(readFileSync(join(homeA, 'emergencies', kept[0]!), 'utf8')),
    )

    // A home that did not exist at all: the network comes from the backup too.
    const homeC = join(root, 'c')
    const mvC = (...args: string[]) => medvault(homeC, args)
    const doc = await mvC('restore', docBackup, '--json')
    assert.equal(doc.code, 0, doc.stderr)
    // A tag secret that is not the one its seed gives (taken over with records) comes back too.
    const docRestored = await openKeystore(join(homeC, 'accounts')).unlock('doc', PASS)
    assert.equal(Buffer.from(docRestored.tagSecret).toString('hex'), docTagSecret.toString('hex'))
    const shared = await mvC('record', 'get', labToken, '--as', 'doc', '--json')
    assert.equal(shared.code, 0, shared.stderr)
    assert.equal(shared.json.document.resourceType, 'Observation')
    const notShared = await mvC('record', 'get', noteToken, '--as', 'doc')
    assert.equal(notShared.code, 3)
  })

  it('a tampered backup, a wrong passphrase and a different account of the same name: a clear error and nothing written', async () => {
    const original = JSON.parse(readFileSync(backupFile, 'utf8'))
    const tampered = structuredClone(original)
    const bytes = Buffer.from(tampered.backup.ciphertexts[0].bytes, 'base64')
    bytes[bytes.length >> 1]! ^= 1
    tampered.backup.ciphertexts[0].bytes = bytes.toString('base64')
    const retargeted = structuredClone(original)
    retargeted.backup.network.chain.rpcUrl = 'http://attacker.example:8545'
    for (const [label, file] of [
      ['a flipped ciphertext byte', tampered],
      ['another RPC URL', retargeted],
    ] as const) {
      const path = join(root, 'tampered.json')
      writeFileSync(path, JSON.stringify(file))
      const homeD = join(root, `d-${label.length}`)
      const result = await medvault(homeD, ['restore', path])
      assert.equal(result.code, 4, `${label}: ${result.stderr}`)
      assert.match(result.stderr, /damaged or was altered.*nothing was restored/)
      assert.equal(existsSync(homeD) ? readdirSync(homeD).length : 0, 0, `${label}: nothing written`)
    }

    const wrong = await medvault(join(root, 'e'), ['restore', backupFile], { MEDVAULT_PASSPHRASE: 'not-the-passphrase' })
    assert.equal(wrong.code, 3)
    assert.match(wrong.stderr, /passphrase does not open/)
    assert.equal(existsSync(join(root, 'e')), false)

    const homeF = join(root, 'f')
    const mvF = (...args: string[]) => medvault(homeF, args)
    assert.equal((await mvF('init', '--rpc-url', chain.rpcUrl, '--chain-id', '4343')).code, 0)
    assert.equal((await mvF('account', 'create', 'pat')).code, 0)
    const mine = readFileSync(join(homeF, 'accounts', 'pat.json'), 'utf8')
    const clash = await mvF('restore', backupFile)
    assert.equal(clash.code, 2)
    assert.match(clash.stderr, /already has a different account named "pat"/)
    assert.equal(readFileSync(join(homeF, 'accounts', 'pat.json'), 'utf8'), mine)
    assert.equal(existsSync(join(homeF, 'keyslips.sqlite')), false)
  })
})
