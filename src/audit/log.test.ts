import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type Address, getAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { InvalidInputError } from '../errors.js'
import { AUDIT_BURST_MAX, GENESIS_PREV, hashAuditEntry, isAuditEntrySignedBy } from './entry.js'
import { AuditLogError } from './errors.js'
import { openAuditLog } from './log.js'
import { verifyAuditLogLocally } from './verify.js'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '..', '..')
const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-audit-'))
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const actor = privateKeyToAccount(generatePrivateKey()).address
const patient = privateKeyToAccount(generatePrivateKey()).address

function assertSingleChain(lines: string[], count: number) {
  assert.equal(lines.length, count)
  let prev: string = GENESIS_PREV
  lines.forEach((line, i) => {
    const e = JSON.parse(line) as { seq: number; prev: string; hash: string }
    assert.equal(e.seq, i, `line ${i + 1} holds seq ${e.seq}`)
    assert.equal(e.prev, prev, `entry ${i} links to its predecessor`)
    prev = e.hash
  })
}

const logLines = (dir: string) => readFileSync(join(dir, 'log.jsonl'), 'utf8').trimEnd().split('\n')

describe('openAuditLog / append', () => {
  it('writes a signed hash chain from seq 0 as JSON lines, readable only by the owner', async () => {
    const dir = tempDir()
    const signer = privateKeyToAccount(generatePrivateKey())
    const log = await openAuditLog({ dir: join(dir, 'audit'), signer })
    assert.equal(await log.last(), undefined)
    const first = await log.append({ actor, action: 'read', tokenId: 1n, patient, outcome: 'allowed', purpose: 'treatment' })
    const second = await log.append({ actor, action: 'key-release', tokenId: '1', patient, outcome: 'denied', reason: 'NO_CONSENT' })
    assert.equal(first.seq, 0)
    assert.equal(first.prev, GENESIS_PREV)
    assert.equal(second.seq, 1)
    assert.equal(second.prev, first.hash)
    assert.ok(await isAuditEntrySignedBy(second, signer.address))
    assert.ok(Math.abs(Date.parse(second.at) - Date.now()) < 60_000)
    assert.deepEqual(await log.entries(), [first, second])
    assert.deepEqual(await log.last(), second)
    assert.equal(statSync(join(dir, 'audit', 'log.jsonl')).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'audit')).mode & 0o777, 0o700)
    const lines = logLines(join(dir, 'audit'))
    assert.deepEqual(JSON.parse(lines[1]!), second)
    assert.equal(log.address, signer.address)
  })

  // Anchors publish entry hashes (the head, the Merkle root), and an entry's fields come from small
  // sets: without a salt, hashing guesses of "who read which record when" confirmed the right one.
  it('salts every entry: its hash, which anchors put on chain, confirms no guess of its fields', async () => {
    const dir = tempDir()
    const log = await openAuditLog({ dir, signer: privateKeyToAccount(generatePrivateKey()) })
    const entry = await log.append({ actor, action: 'read', tokenId: 7n, patient, outcome: 'allowed', reason: 'grant' })
    const { hash, sig: _sig, salt, ...guessed } = entry
    assert.match(salt ?? '', /^0x[0-9a-f]{64}$/)
    assert.notEqual(hashAuditEntry(guessed), hash, 'the fields alone do not give the hash')
    assert.equal(hashAuditEntry({ ...guessed, ...(salt ? { salt } : {}) }), hash, 'with the salt they do')
    const again = await log.append({ actor, action: 'read', tokenId: 7n, patient, outcome: 'allowed', reason: 'grant' })
    assert.notEqual(again.salt, salt)
    assert.equal((await verifyAuditLogLocally({ dir, signerAddress: log.address })).ok, true)
  })

  it('continues the chain after reopening, and refuses another key', async () => {
    const dir = tempDir()
    const signer = privateKeyToAccount(generatePrivateKey())
    const a = await openAuditLog({ dir, signer })
    await a.append({ actor, action: 'read', outcome: 'allowed' })
    const b = await openAuditLog({ dir, signer })
    const next = await b.append({ actor, action: 'verify', outcome: 'allowed' })
    assert.equal(next.seq, 1)
    await assert.rejects(openAuditLog({ dir, signer: privateKeyToAccount(generatePrivateKey()) }), AuditLogError)
  })

  it('rejects invalid events before writing anything', async () => {
    const dir = tempDir()
    const log = await openAuditLog({ dir, signer: privateKeyToAccount(generatePrivateKey()) })
    await assert.rejects(log.append({ actor: '0x1234' as Address, action: 'read', outcome: 'allowed' }), InvalidInputError)
    await assert.rejects(log.append({ actor, action: 'read', outcome: 'allowed', purpose: 'free text with spaces' }), InvalidInputError)
    await assert.rejects(log.append({ actor, action: 'read', outcome: 'allowed', tokenId: '-1' }), InvalidInputError)
    assert.deepEqual(await log.entries(), [])
  })

  it('refuses to chain onto a torn, changed or foreign last line', async () => {
    const signer = privateKeyToAccount(generatePrivateKey())
    const torn = tempDir()
    const log = await openAuditLog({ dir: torn, signer })
    await log.append({ actor, action: 'read', outcome: 'allowed' })
    appendFileSync(join(torn, 'log.jsonl'), '{"seq":1,"at"')
    await assert.rejects(log.append({ actor, action: 'read', outcome: 'allowed' }), /incomplete line/)

    const changed = tempDir()
    const log2 = await openAuditLog({ dir: changed, signer })
    await log2.append({ actor, action: 'read', outcome: 'denied' })
    const file = join(changed, 'log.jsonl')
    writeFileSync(file, readFileSync(file, 'utf8').replace('"denied"', '"allowed"'))
    await assert.rejects(log2.append({ actor, action: 'read', outcome: 'allowed' }), /entry 0 was changed/)

    const foreign = tempDir()
    const other = await openAuditLog({ dir: foreign, signer: privateKeyToAccount(generatePrivateKey()) })
    await other.append({ actor, action: 'read', outcome: 'allowed' })
    const log3 = await openAuditLog({ dir: tempDir(), signer })
    writeFileSync(join(log3.dir, 'log.jsonl'), readFileSync(join(foreign, 'log.jsonl')))
    await assert.rejects(log3.append({ actor, action: 'read', outcome: 'allowed' }), /not signed by this log's key/)
  })

  it('signs each burst of appends once, at most AUDIT_BURST_MAX entries to a signature', async () => {
    const dir = tempDir()
    const signer = privateKeyToAccount(generatePrivateKey())
    const log = await openAuditLog({ dir, signer })
    // The first append starts a write alone; the 129 that arrive meanwhile go in the next one.
    const written = await Promise.all(
      Array.from({ length: 130 }, (_, i) => log.append({ actor, action: 'read', tokenId: BigInt(i), outcome: 'allowed' })),
    )
    const bySig = new Map<string, number[]>()
    for (const e of written) bySig.set(e.sig, [...(bySig.get(e.sig) ?? []), e.seq])
    assert.deepEqual(
      [...bySig.values()].map((seqs) => seqs.length),
      [1, AUDIT_BURST_MAX, AUDIT_BURST_MAX, 1],
    )
    for (const e of written) assert.ok(await isAuditEntrySignedBy(e, signer.address))
    assertSingleChain(logLines(dir), 130)
    assert.deepEqual((await verifyAuditLogLocally({ dir, signerAddress: signer.address })).problems, [])
  })

  it('refuses to chain onto a last line whose burst proof was changed', async () => {
    const signer = privateKeyToAccount(generatePrivateKey())
    const dir = tempDir()
    const log = await openAuditLog({ dir, signer })
    await Promise.all(Array.from({ length: 4 }, () => log.append({ actor, action: 'read', outcome: 'allowed' })))
    const lines = logLines(dir)
    const last = JSON.parse(lines.at(-1)!) as { proof: string[] }
    assert.ok(last.proof.length > 0)
    last.proof[0] = `${last.proof[0]!.slice(0, -1)}${last.proof[0]!.endsWith('0') ? '1' : '0'}`
    writeFileSync(join(dir, 'log.jsonl'), `${[...lines.slice(0, -1), JSON.stringify(last)].join('\n')}\n`)
    await assert.rejects(openAuditLog({ dir, signer }), /not signed by this log's key/)
  })

  it('keeps one unbroken chain under many concurrent appends, from one handle and from two', async () => {
    const dir = tempDir()
    const signer = privateKeyToAccount(generatePrivateKey())
    const a = await openAuditLog({ dir, signer })
    const b = await openAuditLog({ dir, signer })
    const written = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        (i % 3 === 0 ? b : a).append({ actor, action: 'read', tokenId: BigInt(i), outcome: 'allowed' }),
      ),
    )
    assert.deepEqual(
      written.map((e) => e.seq).sort((x, y) => x - y),
      Array.from({ length: 120 }, (_, i) => i),
    )
    assertSingleChain(logLines(dir), 120)
    const result = await verifyAuditLogLocally({ dir, signerAddress: signer.address })
    assert.deepEqual(result.problems, [])
    assert.equal(result.entries, 120)
  })

  it('keeps one unbroken chain when two other processes append at the same time', { timeout: 60_000 }, async () => {
    const dir = tempDir()
    const key = generatePrivateKey()
    const signer = privateKeyToAccount(key)
    const perWriter = 40
    const child = () => {
      const code = `
        const { openAuditLog } = await import(process.env.AUDIT_MODULE)
        const { privateKeyToAccount } = await import('viem/accounts')
        const log = await openAuditLog({ dir: process.env.AUDIT_DIR, signer: privateKeyToAccount(process.env.AUDIT_KEY) })
        process.stdout.write('ready\\n')
        await new Promise((resolve) => process.stdin.once('data', resolve))
        const n = Number(process.env.AUDIT_COUNT)
        // One at a time, so the processes contend for the lock entry by entry (a burst would be one group commit).
        for (let i = 0; i < n; i++)
          await log.append({ actor: log.address, action: 'read', tokenId: String(i), outcome: 'allowed', reason: 'pid-' + process.pid })
        process.exit(0)
      `
      const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        cwd: repoRoot,
        env: {
          ...process.env,
          AUDIT_MODULE: pathToFileURL(join(here, 'index.ts')).href,
          AUDIT_DIR: dir,
          AUDIT_KEY: key,
          AUDIT_COUNT: String(perWriter),
        },
        stdio: ['pipe', 'pipe', 'inherit'],
      })
      const ready = new Promise<void>((resolve, reject) => {
        proc.stdout.once('data', () => resolve())
        proc.once('exit', (code) => reject(new Error(`child exited early with ${code}`)))
      })
      const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve))
      return { proc, ready, exited }
    }
    const children = [child(), child()]
    await Promise.all(children.map((c) => c.ready))
    const log = await openAuditLog({ dir, signer })
    for (const c of children) c.proc.stdin.end('go\n')
    for (let i = 0; i < perWriter; i++) await log.append({ actor, action: 'verify', tokenId: BigInt(i), outcome: 'allowed' })
    assert.deepEqual(await Promise.all(children.map((c) => c.exited)), [0, 0])

    // The property, whatever the scheduler did: one unbroken chain holding every append of every
    // writer exactly once, each writer's in the order it made them. (Whether the writers happened to
    // interleave is the scheduler's business; asserting it made this test flaky.)
    const lines = logLines(dir)
    assertSingleChain(lines, 3 * perWriter)
    const byWriter = new Map<string, string[]>()
    for (const line of lines) {
      const entry = JSON.parse(line) as { reason?: string; tokenId: string }
      const writer = entry.reason ?? 'parent'
      byWriter.set(writer, [...(byWriter.get(writer) ?? []), entry.tokenId])
    }
    const inOrder = Array.from({ length: perWriter }, (_, i) => String(i))
    assert.equal(byWriter.size, 3)
    for (const [writer, tokenIds] of byWriter) assert.deepEqual(tokenIds, inOrder, `${writer}'s entries, once each, in order`)
    const result = await verifyAuditLogLocally({ dir, signerAddress: getAddress(signer.address) })
    assert.equal(result.ok, true)
  })
})
