import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeAbiParameters, keccak256, parseAbiParameters, toBytes, zeroAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { SimpleMerkleTree } from '@openzeppelin/merkle-tree'
import {
  type AuditEntryBody,
  AUDIT_ENTRY_TAG,
  GENESIS_PREV,
  auditBurstDigest,
  auditBurstRoot,
  auditEntryBody,
  auditEntryLine,
  hashAuditEntry,
  hashAuditEntryByViem,
  isAuditEntrySignedBy,
  isAuditSignatureBy,
  normalizeAuditEvent,
  parseAuditLine,
  signAuditBurst,
  signAuditEntry,
} from './entry.js'

const signer = privateKeyToAccount(generatePrivateKey())
const actor = privateKeyToAccount(generatePrivateKey()).address
const patient = privateKeyToAccount(generatePrivateKey()).address

const body: AuditEntryBody = {
  seq: 3,
  at: '2025-01-02T03:04:05.678Z',
  actor,
  action: 'read',
  tokenId: '7',
  patient,
  purpose: 'treatment',
  outcome: 'denied',
  reason: 'ACCESS_DENIED',
  prev: keccak256(toBytes('previous')),
}

describe('audit entry hash', () => {
  it('is keccak256 of the documented ABI encoding', () => {
    assert.equal(AUDIT_ENTRY_TAG, keccak256(toBytes('medvault.audit.entry.v1')))
    const expected = keccak256(
      encodeAbiParameters(
        parseAbiParameters('bytes32, uint256, string, address, string, string, address, string, string, string, bytes32'),
        [AUDIT_ENTRY_TAG, 3n, body.at, actor, 'read', '7', patient, 'treatment', 'denied', 'ACCESS_DENIED', body.prev],
      ),
    )
    assert.equal(hashAuditEntry(body), expected)
  })

  it('changes with every field, and absent differs from present', () => {
    const base = hashAuditEntry(body)
    const variants: Partial<AuditEntryBody>[] = [
      { seq: 4 },
      { at: '2025-01-02T03:04:05.679Z' },
      { actor: patient },
      { action: 'verify' },
      { tokenId: '8' },
      { patient: actor },
      { purpose: 'research' },
      { outcome: 'allowed' },
      { reason: 'EXPIRED' },
      { prev: GENESIS_PREV },
    ]
    const hashes = new Set([base])
    for (const v of variants) hashes.add(hashAuditEntry({ ...body, ...v }))
    for (const key of ['tokenId', 'patient', 'purpose', 'reason'] as const) {
      const { [key]: _, ...without } = body
      hashes.add(hashAuditEntry(without))
    }
    assert.equal(hashes.size, 1 + variants.length + 4)
  })

  it('the hand-laid encoding hashes exactly as viem encodes, versions 1 and 2, any field lengths and characters', () => {
    // A small deterministic generator, so a failure names a case that comes back.
    let state = 0x2545f491
    const next = () => {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      return state >>> 0
    }
    const pieces = ['a', 'Z', '9', '.', ':', '-', '_', 'é', '€', '💊', ' ', '\u0000', '\ud800']
    const text = () => Array.from({ length: next() % 80 }, () => pieces[next() % pieces.length]).join('')
    const hex32 = () => `0x${Array.from({ length: 32 }, () => (next() % 256).toString(16).padStart(2, '0')).join('')}` as const
    for (let i = 0; i < 400; i++) {
      const b: AuditEntryBody = {
        seq: i % 7 === 0 ? Number.MAX_SAFE_INTEGER - i : next() % 1_000_000,
        at: i % 3 === 0 ? text() : new Date(next() * 1000).toISOString(),
        actor: i % 5 === 0 ? (actor.toLowerCase() as typeof actor) : actor,
        action: text() as AuditEntryBody['action'],
        outcome: (i % 2 ? 'allowed' : 'denied') as AuditEntryBody['outcome'],
        prev: i % 4 === 0 ? (hex32().toUpperCase().replace('0X', '0x') as typeof body.prev) : hex32(),
        ...(next() % 2 ? { tokenId: String(next()) } : {}),
        ...(next() % 2 ? { patient } : {}),
        ...(next() % 2 ? { purpose: text() } : {}),
        ...(next() % 2 ? { reason: text() } : {}),
        ...(next() % 2 ? { salt: hex32() } : {}),
      }
      assert.equal(hashAuditEntry(b), hashAuditEntryByViem(b), `case ${i}`)
    }
  })

  it('leaves a body outside the layout to viem, which refuses what it refused before', () => {
    const badChecksum = `${actor.slice(0, 2)}${actor[2] === 'a' ? 'A' : actor[2] === 'A' ? 'a' : actor[2]}${actor.slice(3)}`
    const bodies: AuditEntryBody[] = [
      { ...body, seq: -1 },
      { ...body, seq: 1.5 },
      { ...body, prev: '0x1234' },
      { ...body, prev: `0x${'zz'.repeat(32)}` },
      { ...body, salt: '0x12' },
      { ...body, actor: '0x0000' as typeof actor },
      { ...body, actor: `${actor.slice(0, 41)}${actor[41] === 'a' ? 'b' : 'a'}`.toUpperCase().replace('0X', '0x') as typeof actor },
      { ...body, actor: badChecksum as typeof actor },
    ]
    for (const [i, b] of bodies.entries()) {
      let expected: string
      try {
        expected = hashAuditEntryByViem(b)
      } catch (error) {
        assert.throws(() => hashAuditEntry(b), { name: (error as Error).name }, `case ${i}`)
        continue
      }
      assert.equal(hashAuditEntry(b), expected, `case ${i}`)
    }
  })
})

describe('audit entry parsing', () => {
  it('round-trips a signed entry through its JSON line, fields in canonical order', async () => {
    const entry = await signAuditEntry(signer, body)
    const line = auditEntryLine(entry)
    assert.deepEqual(Object.keys(JSON.parse(line)), [
      'seq',
      'at',
      'actor',
      'action',
      'tokenId',
      'patient',
      'purpose',
      'outcome',
      'reason',
      'prev',
      'hash',
      'sig',
    ])
    const parsed = parseAuditLine(line)
    assert.ok(parsed.ok)
    assert.deepEqual(parsed.entry, entry)
    assert.deepEqual(auditEntryBody(parsed.entry), body)
  })

  it('rejects malformed lines, naming the field but never its value', async () => {
    const entry = await signAuditEntry(signer, body)
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ extra: 'x' }, /unexpected field/],
      [{ actor: actor.toLowerCase() }, /actor is not a checksummed address/],
      [{ tokenId: '007' }, /tokenId/],
      [{ purpose: 'Patient has HIV' }, /purpose is not a short machine code/],
      [{ at: '2025-01-02' }, /at is not a canonical ISO time/],
      [{ action: 'steal' }, /action/],
      [{ patient: zeroAddress }, /patient is the zero address/],
      [{ seq: -1 }, /seq/],
      [{ hash: entry.hash.toUpperCase() }, /hash/],
    ]
    for (const [change, message] of cases) {
      const parsed = parseAuditLine(JSON.stringify({ ...entry, ...change }))
      assert.equal(parsed.ok, false)
      if (!parsed.ok) {
        assert.match(parsed.error, message)
        assert.doesNotMatch(parsed.error, /HIV/)
      }
    }
    const missing = parseAuditLine(JSON.stringify({ ...entry, outcome: undefined }))
    assert.ok(!missing.ok && /outcome is missing/.test(missing.error) && missing.frame?.seq === 3)
    assert.ok(!parseAuditLine('{not json').ok)
  })

  it('normalises events: checksummed addresses, decimal token ids; rejects content', () => {
    const ok = normalizeAuditEvent({ actor: actor.toLowerCase() as `0x${string}`, action: 'read', tokenId: 12n, outcome: 'allowed' })
    assert.ok(ok.ok)
    assert.deepEqual(ok.ok && ok.fields, { actor, action: 'read', tokenId: '12', outcome: 'allowed' })
    assert.equal(normalizeAuditEvent({ actor, action: 'read', outcome: 'denied', reason: 'the note says cancer' }).ok, false)
    assert.equal(normalizeAuditEvent({ actor, action: 'read', outcome: 'denied', patient: zeroAddress }).ok, false)
    assert.equal(normalizeAuditEvent({ actor, action: 'read', outcome: 'maybe' as 'allowed' }).ok, false)
    assert.equal(normalizeAuditEvent({ actor, action: 'read', outcome: 'allowed', tokenId: '' }).ok, false)
    assert.equal(normalizeAuditEvent({ actor, action: 'read', outcome: 'allowed', note: 'x' } as never).ok, false)
    assert.equal(normalizeAuditEvent({ actor, action: 'read', outcome: 'allowed', seq: 0 } as never).ok, false)
  })
})

describe('audit entry signature', () => {
  it("is the signer's EIP-191 signature over the hash bytes; only canonical signatures count", async () => {
    const entry = await signAuditEntry(signer, body)
    assert.equal(entry.sig, await signer.signMessage({ message: { raw: entry.hash } }))
    assert.equal(await isAuditSignatureBy(entry.hash, entry.sig, signer.address), true)
    assert.equal(await isAuditSignatureBy(entry.hash, entry.sig, actor), false)
    assert.equal(await isAuditSignatureBy(GENESIS_PREV, entry.sig, signer.address), false)
    assert.equal(await isAuditSignatureBy(entry.hash, '0x1234', signer.address), false)
    assert.equal(await isAuditSignatureBy(entry.hash, `0x${'00'.repeat(65)}`, signer.address), false)
    // The malleable twin (s -> n - s, v flipped) recovers the same address, but is not accepted.
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
    const s = BigInt(`0x${entry.sig.slice(66, 130)}`)
    const v = Number.parseInt(entry.sig.slice(130), 16)
    const twin = `${entry.sig.slice(0, 66)}${(n - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as const
    assert.equal(await isAuditSignatureBy(entry.hash, twin as `0x${string}`, signer.address), false)
  })
})

describe('audit burst signature', () => {
  const bodies = (n: number): AuditEntryBody[] => {
    const out: AuditEntryBody[] = []
    for (let i = 0; i < n; i++)
      out.push({ ...body, seq: i, tokenId: String(i), prev: i === 0 ? GENESIS_PREV : hashAuditEntry(out[i - 1]!) })
    return out
  }

  it("signs the burst's OpenZeppelin Merkle root once; each entry's proof reaches it", async () => {
    for (const n of [1, 2, 5, 64]) {
      const entries = await signAuditBurst(signer, bodies(n))
      assert.equal(new Set(entries.map((e) => e.sig)).size, 1)
      const root = auditBurstRoot(entries[0]!.hash, entries[0]!.proof!)
      if (n > 1) {
        const library = SimpleMerkleTree.of(
          entries.map((e) => e.hash),
          { sortLeaves: false },
        )
        assert.equal(root, library.root)
        for (const [i, e] of entries.entries()) assert.deepEqual(e.proof, library.getProof(i))
      } else assert.equal(root, entries[0]!.hash)
      assert.equal(entries[0]!.sig, await signer.signMessage({ message: { raw: auditBurstDigest(root) } }))
      for (const e of entries) {
        assert.equal(e.hash, hashAuditEntry(auditEntryBody(e)))
        assert.equal(auditBurstRoot(e.hash, e.proof!), root)
        assert.ok(SimpleMerkleTree.verify(root, e.hash, e.proof!))
        assert.equal(await isAuditEntrySignedBy(e, signer.address), true)
        assert.equal(await isAuditEntrySignedBy(e, actor), false)
        const parsed = parseAuditLine(auditEntryLine(e))
        assert.ok(parsed.ok)
        assert.deepEqual(parsed.entry, e)
      }
    }
  })

  it('never lets a burst signature pass for an entry signature, nor the reverse', async () => {
    const [burstSigned] = await signAuditBurst(signer, bodies(1))
    assert.ok(burstSigned)
    // Same root as the entry hash, yet a different message: the tag separates them.
    assert.equal(await isAuditSignatureBy(burstSigned.hash, burstSigned.sig, signer.address), false)
    const { proof: _proof, ...withoutProof } = burstSigned
    assert.equal(await isAuditEntrySignedBy(withoutProof, signer.address), false)
    const entrySigned = await signAuditEntry(signer, auditEntryBody(burstSigned))
    assert.equal(await isAuditEntrySignedBy({ ...entrySigned, proof: [] }, signer.address), false)
    assert.equal(await isAuditEntrySignedBy(entrySigned, signer.address), true)
  })

  it('recovers a burst signature once for all its entries when given a shared map', async () => {
    const entries = await signAuditBurst(signer, bodies(8))
    const verified = new Map<string, boolean>()
    for (const e of entries) assert.equal(await isAuditEntrySignedBy(e, signer.address, verified), true)
    assert.equal(verified.size, 1)
  })

  it('rejects malformed proofs in a line', () => {
    const line = (proof: unknown) =>
      JSON.stringify({ ...JSON.parse(auditEntryLine({ ...body, hash: GENESIS_PREV, sig: `0x${'1b'.repeat(65)}` })), proof })
    for (const proof of ['0x00', [1], ['0xAB'], [`0x${'AB'.repeat(32)}`], Array.from({ length: 33 }, () => GENESIS_PREV)]) {
      const parsed = parseAuditLine(line(proof))
      assert.equal(parsed.ok, false)
      if (!parsed.ok) assert.equal(parsed.error, 'proof is not a list of lower-case 32-byte hex hashes')
    }
    assert.equal(parseAuditLine(line([GENESIS_PREV])).ok, true)
  })
})
