/** Local verification (no chain): what hashes, signatures, order and links alone reveal. */
import assert from 'node:assert/strict'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { Hex } from 'viem'
import { type AuditEntry, GENESIS_PREV, auditEntryBody, auditEntryLine, hashAuditEntry, signAuditBurst, signAuditEntry } from './entry.js'
import { type AuditLog, openAuditLog } from './log.js'
import { type AuditProblemKind, verifyAuditLogLocally } from './verify.js'

const root = mkdtempSync(join(tmpdir(), 'medvault-audit-verify-'))
after(() => rmSync(root, { recursive: true, force: true }))
const signer = privateKeyToAccount(generatePrivateKey())
const actor = privateKeyToAccount(generatePrivateKey()).address
const patient = privateKeyToAccount(generatePrivateKey()).address
let pristine: AuditLog
let copies = 0

/** A copy of the pristine 8-entry log with its lines passed through `edit`. */
function tampered(edit: (lines: Record<string, unknown>[]) => (Record<string, unknown> | string)[]): string {
  const dir = join(root, `copy-${copies++}`)
  cpSync(pristine.dir, dir, { recursive: true })
  const file = join(dir, 'log.jsonl')
  const lines = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  const edited = edit(lines).map((l) => (typeof l === 'string' ? l : JSON.stringify(l)))
  writeFileSync(file, edited.length > 0 ? `${edited.join('\n')}\n` : '')
  return dir
}

async function problemsOf(dir: string) {
  const result = await verifyAuditLogLocally({ dir, signerAddress: signer.address })
  assert.equal(result.ok, result.problems.length === 0)
  return result.problems.map((p) => [p.kind, p.seq] as [AuditProblemKind, number])
}

before(async () => {
  pristine = await openAuditLog({ dir: join(root, 'pristine'), signer })
  for (let i = 0; i < 8; i++) {
    await pristine.append({
      actor,
      action: i % 2 ? 'read' : 'key-release',
      tokenId: BigInt(i + 1),
      patient,
      outcome: 'allowed',
      purpose: 'care',
    })
  }
})

describe('verifyAuditLogLocally', () => {
  it('passes an intact log and an empty one', async () => {
    const result = await verifyAuditLogLocally({ dir: pristine.dir, signerAddress: signer.address })
    assert.deepEqual(result, { ok: true, entries: 8, anchoredThrough: undefined, batches: 0, problems: [] })
    const empty = await verifyAuditLogLocally({ dir: join(root, 'nothing-here'), signerAddress: signer.address })
    assert.equal(empty.ok, true)
    assert.equal(empty.entries, 0)
  })

  it('reports a change to any field as changed, at that entry', async () => {
    const changes: Record<string, unknown> = {
      at: '2020-01-01T00:00:00.000Z',
      actor: patient,
      action: 'verify',
      tokenId: '99',
      patient: actor,
      purpose: 'research',
      outcome: 'denied',
      reason: 'added',
    }
    for (const [field, value] of Object.entries(changes)) {
      const dir = tampered((lines) => lines.map((l) => (l.seq === 3 ? { ...l, [field]: value } : l)))
      assert.deepEqual(await problemsOf(dir), [['changed', 3]], field)
    }
    const removed = tampered((lines) => lines.map((l) => (l.seq === 3 ? { ...l, purpose: undefined } : l)))
    assert.deepEqual(await problemsOf(removed), [['changed', 3]], 'removing an optional field')
    const invalid = tampered((lines) => lines.map((l) => (l.seq === 3 ? { ...l, action: 'delete' } : l)))
    assert.deepEqual(await problemsOf(invalid), [['changed', 3]], 'an invalid value')
    // The chain fields: a changed prev also breaks the link, a changed hash also the signature and the next link.
    const prev = tampered((lines) => lines.map((l) => (l.seq === 3 ? { ...l, prev: lines[1]!.hash } : l)))
    assert.deepEqual(await problemsOf(prev), [
      ['changed', 3],
      ['broken-chain', 3],
    ])
    const hash = tampered((lines) => lines.map((l) => (l.seq === 3 ? { ...l, hash: lines[1]!.hash } : l)))
    assert.deepEqual(await problemsOf(hash), [
      ['changed', 3],
      ['bad-signature', 3],
      ['broken-chain', 4],
    ])
  })

  it('reports swapped entries as reordered', async () => {
    const far = tampered((lines) => lines.map((l, i) => (i === 2 ? lines[6]! : i === 6 ? lines[2]! : l)))
    assert.deepEqual(await problemsOf(far), [
      ['reordered', 2],
      ['reordered', 6],
    ])
    const adjacent = tampered((lines) => lines.map((l, i) => (i === 4 ? lines[5]! : i === 5 ? lines[4]! : l)))
    const kinds = await problemsOf(adjacent)
    assert.equal(kinds.length, 1)
    assert.equal(kinds[0]![0], 'reordered')
    const moved = tampered((lines) => [...lines.slice(0, 2), ...lines.slice(3), lines[2]!])
    assert.deepEqual(await problemsOf(moved), [['reordered', 2]])
  })

  it('reports dropped entries (one, or a range) in the middle', async () => {
    assert.deepEqual(await problemsOf(tampered((lines) => lines.filter((l) => l.seq !== 4))), [['dropped', 4]])
    assert.deepEqual(await problemsOf(tampered((lines) => lines.filter((l) => l.seq !== 0))), [['dropped', 0]])
    const range = await verifyAuditLogLocally({
      dir: tampered((lines) => lines.filter((l) => (l.seq as number) < 2 || (l.seq as number) > 4)),
      signerAddress: signer.address,
    })
    assert.deepEqual(
      range.problems.map((p) => [p.kind, p.seq, p.message]),
      [['dropped', 2, 'Entries 2..4 are missing from the log.']],
    )
  })

  it('reports a forged signature, and a forged entry, as bad-signature', async () => {
    const forger = privateKeyToAccount(generatePrivateKey())
    const forged = await Promise.all(
      JSON.parse(`[${readFileSync(join(pristine.dir, 'log.jsonl'), 'utf8').trimEnd().split('\n').join(',')}]`).map(
        async (l: { hash: `0x${string}` }) => ({ ...l, sig: await forger.signMessage({ message: { raw: l.hash } }) }),
      ),
    )
    assert.deepEqual(await problemsOf(tampered((lines) => lines.map((l, i) => (i === 5 ? forged[5] : l)))), [['bad-signature', 5]])
    // A whole new entry, hashed correctly but signed by another key, in place of the last one.
    const last = (await pristine.entries())[7]!
    const fake = await signAuditEntry(forger, { ...last, outcome: 'denied' })
    assert.deepEqual(await problemsOf(tampered((lines) => [...lines.slice(0, 7), { ...fake }])), [['bad-signature', 7]])
  })

  it('reports duplicated entries and damaged lines', async () => {
    assert.deepEqual(await problemsOf(tampered((lines) => [...lines.slice(0, 4), lines[3]!, ...lines.slice(4)])), [['broken-chain', 3]])
    assert.deepEqual(await problemsOf(tampered((lines) => lines.map((l, i) => (i === 6 ? '{"seq":6, oops' : l)))), [['changed', 6]])
    const dir = tampered((lines) => lines)
    writeFileSync(join(dir, 'log.jsonl'), `${readFileSync(join(dir, 'log.jsonl'), 'utf8')}{"seq":8,"at":"20`)
    const torn = await verifyAuditLogLocally({ dir, signerAddress: signer.address })
    assert.deepEqual(
      torn.problems.map((p) => [p.kind, p.seq]),
      [['changed', 8]],
    )
    assert.match(torn.problems[0]!.message, /incomplete line/)
  })

  it('cannot see a rewrite by the key holder (that is what anchoring is for)', async () => {
    const entries = await pristine.entries()
    const rewritten = [...entries.slice(0, 3)]
    for (const e of entries.slice(3)) {
      const body = { ...e, outcome: 'denied' as const, prev: rewritten[rewritten.length - 1]!.hash }
      rewritten.push(await signAuditEntry(signer, body))
    }
    assert.notEqual(hashAuditEntry(rewritten[3]!), entries[3]!.hash)
    assert.deepEqual(await problemsOf(tampered(() => rewritten)), [])
  })
})

describe('verifyAuditLogLocally on burst-signed entries', () => {
  /** A log with two entries in the old format (each signed on its own), then bursts of 1 and 9. */
  let mixed: string
  before(async () => {
    mixed = join(root, 'mixed')
    const legacy = [
      await signAuditEntry(signer, { seq: 0, at: new Date().toISOString(), actor, action: 'read', outcome: 'allowed', prev: GENESIS_PREV }),
    ]
    legacy.push(
      await signAuditEntry(signer, {
        seq: 1,
        at: new Date().toISOString(),
        actor,
        action: 'list',
        outcome: 'denied',
        prev: legacy[0]!.hash,
      }),
    )
    mkdirSync(mixed, { recursive: true, mode: 0o700 })
    writeFileSync(join(mixed, 'log.jsonl'), `${legacy.map(auditEntryLine).join('\n')}\n`, { mode: 0o600 })
    const log = await openAuditLog({ dir: mixed, signer })
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => log.append({ actor, action: 'read', tokenId: BigInt(i + 1), patient, outcome: 'allowed' })),
    )
  })

  /** The mixed log's lines, passed through `edit`, in a fresh copy. */
  async function problemsAfter(edit: (lines: Record<string, unknown>[]) => Record<string, unknown>[]) {
    const dir = join(root, `copy-${copies++}`)
    cpSync(mixed, dir, { recursive: true })
    const file = join(dir, 'log.jsonl')
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    writeFileSync(
      file,
      `${edit(lines)
        .map((l) => JSON.stringify(l))
        .join('\n')}\n`,
    )
    return problemsOf(dir)
  }

  it('reads the old format and the new in one log; a burst shares one signature, each entry its own proof', async () => {
    const lines = readFileSync(join(mixed, 'log.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry)
    assert.equal(lines.length, 12)
    assert.equal(lines[0]!.proof, undefined)
    assert.equal(lines[1]!.proof, undefined)
    assert.deepEqual(lines[2]!.proof, [])
    const burst = lines.slice(3)
    assert.equal(new Set(burst.map((e) => e.sig)).size, 1)
    assert.notEqual(burst[0]!.sig, lines[2]!.sig)
    for (const e of burst) assert.ok([3, 4].includes(e.proof!.length)) // 9 leaves: depth 3 or 4
    assert.deepEqual(await problemsOf(mixed), [])
  })

  it('finds a tampered entry inside a signed burst, however it was tampered with', async () => {
    const lines = readFileSync(join(mixed, 'log.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry)
    // A field changed: its hash no longer recomputes.
    assert.deepEqual(await problemsAfter((ls) => ls.map((l, i) => (i === 6 ? { ...l, outcome: 'denied' } : l))), [['changed', 6]])
    // A field changed and the hash recomputed: the proof no longer reaches the signed root, and the next entry's link breaks.
    const rehashed = { ...lines[6]!, outcome: 'denied' as const }
    rehashed.hash = hashAuditEntry(rehashed)
    assert.deepEqual(await problemsAfter((ls) => ls.map((l, i) => (i === 6 ? rehashed : l))), [
      ['bad-signature', 6],
      ['broken-chain', 7],
    ])
    // A proof altered, cut short, or borrowed from a neighbour.
    const flip = (h: Hex): Hex => `0x${h.slice(2, 65)}${h.endsWith('0') ? '1' : '0'}`
    const proof = lines[8]!.proof!
    assert.deepEqual(await problemsAfter((ls) => ls.map((l, i) => (i === 8 ? { ...l, proof: [flip(proof[0]!), ...proof.slice(1)] } : l))), [
      ['bad-signature', 8],
    ])
    assert.deepEqual(await problemsAfter((ls) => ls.map((l, i) => (i === 8 ? { ...l, proof: proof.slice(1) } : l))), [['bad-signature', 8]])
    assert.deepEqual(await problemsAfter((ls) => ls.map((l, i) => (i === 8 ? { ...l, proof: lines[9]!.proof } : l))), [
      ['bad-signature', 8],
    ])
    // The signature of another burst, or an entry presented as signed on its own.
    assert.deepEqual(await problemsAfter((ls) => ls.map((l, i) => (i === 8 ? { ...l, sig: lines[2]!.sig } : l))), [['bad-signature', 8]])
    assert.deepEqual(
      await problemsAfter((ls) =>
        ls.map((l, i) => {
          if (i !== 8) return l
          const { proof: _proof, ...rest } = l
          return rest
        }),
      ),
      [['bad-signature', 8]],
    )
    // A burst signed by another key.
    const forger = privateKeyToAccount(generatePrivateKey())
    const forged = await signAuditBurst(forger, lines.slice(3).map(auditEntryBody))
    assert.deepEqual(
      await problemsAfter((ls) => [...ls.slice(0, 3), ...forged]),
      [3, 4, 5, 6, 7, 8, 9, 10, 11].map((s) => ['bad-signature', s]),
    )
  })
})
