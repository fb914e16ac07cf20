/**
 * One audit log entry: its fields, their validation, the canonical hash and the EIP-191 signature.
 *
 * Hash encoding (version 1): `keccak256(abi.encode(bytes32 tag, uint256 seq, string at, address actor,
 * string action, string tokenId, address patient, string purpose, string outcome, string reason,
 * bytes32 prev))` with `tag = keccak256("medvault.audit.entry.v1")`. Absent optional fields encode as
 * the empty string (tokenId, purpose, reason) or the zero address (patient); validation forbids those
 * values when the field is present, so the encoding is injective over valid entries. ABI encoding is
 * length-prefixed, needs no JSON canonicalisation, and Solidity can recompute it.
 *
 * Version 2 (every entry written now): the same with `tag = keccak256("medvault.audit.entry.v2")`
 * and a random `bytes32 salt` after the tag. Anchors put entry hashes on chain (the head, the
 * Merkle root), and every field of an entry comes from a small set (accounts, actions, token ids,
 * a millisecond time in the batch's minute), so an unsalted hash could be confirmed by guessing
 * "who read which record when". The salt is in the log line, which only the node and the patient
 * see. Entries without a salt (written before version 2) still verify under version 1.
 *
 * Signatures. An entry without `proof` carries the log key's EIP-191 signature over its own hash
 * (every entry written before burst signing). The log now signs once per burst of appends (its group
 * commit, at most {@link AUDIT_BURST_MAX} entries): the entries' hashes are the leaves of an
 * OpenZeppelin SimpleMerkleTree (sorted pairs, leaves not re-hashed: each is already the keccak256 of
 * a long ABI encoding, never of 64 bytes, so no leaf can pass for an inner node), the key signs
 * `keccak256(abi.encode(keccak256("medvault.audit.burst.v1"), root))` once, and each entry carries
 * that signature and its own `proof` to the root. One secp256k1 signature per burst instead of one
 * per entry, and each entry still proves on its own that the key wrote it: change a field and its
 * hash no longer recomputes; recompute the hash and the proof no longer reaches a signed root. The
 * tag keeps a burst signature from ever passing for an entry signature, and the reverse.
 */
import {
  type Address,
  type Hex,
  concatHex,
  encodeAbiParameters,
  getAddress,
  isAddress,
  keccak256,
  parseAbiParameters,
  recoverMessageAddress,
  toBytes,
  zeroAddress,
  zeroHash,
} from 'viem'
import type { LocalAccount } from 'viem/accounts'
import sha3 from 'js-sha3'

export const AUDIT_ACTIONS = ['read', 'verify', 'key-release', 'grant', 'revoke', 'emergency', 'issue', 'amend', 'list', 'erase'] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

export const AUDIT_OUTCOMES = ['allowed', 'denied'] as const
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number]

/** What a caller records about one access attempt. The log adds seq, time, chain link and signature. */
export type AuditEvent = {
  /** The account that attempted the access. */
  actor: Address
  action: AuditAction
  /** The record's token id, as a decimal string or bigint. */
  tokenId?: string | bigint
  /** The patient whose record it is. */
  patient?: Address
  /** A short machine code (`treatment`, `emergency`...), never free text. */
  purpose?: string
  outcome: AuditOutcome
  /** A short machine code (`ACCESS_DENIED`, `consent-expired`...), never content. */
  reason?: string
}

/** The fields the hash covers. */
export type AuditEntryBody = {
  seq: number
  /** ISO 8601 time, as `Date.prototype.toISOString()` writes it. */
  at: string
  actor: Address
  action: AuditAction
  tokenId?: string
  patient?: Address
  purpose?: string
  outcome: AuditOutcome
  reason?: string
  /** 32 random bytes (version 2), so the hash on chain confirms no guess of the fields; absent in version 1 entries. */
  salt?: Hex
  /** Hash of the previous entry; zero for seq 0. */
  prev: Hex
}

/** One line of the log. */
export type AuditEntry = AuditEntryBody & {
  /** {@link hashAuditEntry} of the body. */
  hash: Hex
  /** The log signer's EIP-191 signature: over the 32 hash bytes, or with `proof`, over its burst's digest. */
  sig: Hex
  /** Burst-signed entries: the Merkle proof from `hash` to the root of the burst `sig` signs (see the module comment). */
  proof?: Hex[]
}

export const GENESIS_PREV: Hex = zeroHash
export const AUDIT_ENTRY_TAG: Hex = keccak256(toBytes('medvault.audit.entry.v1'))
export const AUDIT_ENTRY_TAG_V2: Hex = keccak256(toBytes('medvault.audit.entry.v2'))
export const AUDIT_BURST_TAG: Hex = keccak256(toBytes('medvault.audit.burst.v1'))
/**
 * The most entries one burst signature covers. A proof grows by one hash (67 bytes of JSON) each time
 * a burst doubles; 64 keeps it at 6 hashes, while 1,000 appends at once still cost 16 signatures.
 */
export const AUDIT_BURST_MAX = 64
/** Deeper than any burst the log writes needs; bounds the work a crafted line can ask of a reader. */
const MAX_PROOF_LENGTH = 32

const ENCODING = parseAbiParameters(
  'bytes32 tag, uint256 seq, string at, address actor, string action, string tokenId, address patient, string purpose, string outcome, string reason, bytes32 prev',
)

const ENCODING_V2 = parseAbiParameters(
  'bytes32 tag, bytes32 salt, uint256 seq, string at, address actor, string action, string tokenId, address patient, string purpose, string outcome, string reason, bytes32 prev',
)

const BURST_ENCODING = parseAbiParameters('bytes32 tag, bytes32 root')

/** The canonical hash of an entry's body (see the module comment for the encoding). */
export function hashAuditEntry(body: AuditEntryBody): Hex {
  const encoded = encodeEntry(body)
  return encoded ? keccakHex(encoded) : hashAuditEntryByViem(body)
}

/**
 * The same hash through viem's generic ABI encoder, for a body the fixed layout below does not take
 * (a field of the wrong type or form): viem then decides, throwing where it throws. The tests hold
 * the two to the same hash.
 */
export function hashAuditEntryByViem(body: AuditEntryBody): Hex {
  // Version 2 adds the salt after the tag; the fields after it are the same in both.
  const fields = [
    BigInt(body.seq),
    body.at,
    body.actor,
    body.action,
    body.tokenId ?? '',
    body.patient ?? zeroAddress,
    body.purpose ?? '',
    body.outcome,
    body.reason ?? '',
    body.prev,
  ] as const
  return keccak256(
    body.salt !== undefined
      ? encodeAbiParameters(ENCODING_V2, [AUDIT_ENTRY_TAG_V2, body.salt, ...fields])
      : encodeAbiParameters(ENCODING, [AUDIT_ENTRY_TAG, ...fields]),
  )
}

const HEX_32 = /^0x[0-9a-fA-F]{64}$/
const TAG_V1 = Buffer.from(AUDIT_ENTRY_TAG.slice(2), 'hex')
const TAG_V2 = Buffer.from(AUDIT_ENTRY_TAG_V2.slice(2), 'hex')

/**
 * `abi.encode(...)` of an entry laid out by hand (viem's generic encoder was a tenth of a warm read
 * under load): static words in the head, each string as an offset there and its length and
 * zero-padded UTF-8 bytes in the tail, in order. Undefined for a body outside the layout's domain.
 */
function encodeEntry(body: AuditEntryBody): Buffer | undefined {
  const patient = body.patient ?? zeroAddress
  if (
    !Number.isSafeInteger(body.seq) ||
    body.seq < 0 ||
    // viem's own address check (checksum when mixed case), kept so the same bodies are refused.
    typeof body.actor !== 'string' ||
    !isAddress(body.actor) ||
    typeof patient !== 'string' ||
    !isAddress(patient) ||
    typeof body.prev !== 'string' ||
    !HEX_32.test(body.prev) ||
    (body.salt !== undefined && (typeof body.salt !== 'string' || !HEX_32.test(body.salt)))
  ) {
    return undefined
  }
  const texts = [body.at, body.action, body.tokenId ?? '', body.purpose ?? '', body.outcome, body.reason ?? '']
  if (!texts.every((t) => typeof t === 'string')) return undefined
  const strings = texts.map((t) => Buffer.from(t, 'utf8'))
  const v2 = body.salt !== undefined
  const headWords = v2 ? 12 : 11
  let size = headWords * 32
  for (const bytes of strings) size += 32 + Math.ceil(bytes.byteLength / 32) * 32
  const out = Buffer.alloc(size)
  let head = 0
  let tail = headWords * 32
  const word32 = (hex: string) => {
    out.write(hex.slice(2), head, 32, 'hex')
    head += 32
  }
  const address = (hex: string) => {
    out.write(hex.slice(2), head + 12, 20, 'hex')
    head += 32
  }
  const text = (bytes: Buffer) => {
    out.writeUInt32BE(tail, head + 28)
    head += 32
    out.writeUInt32BE(bytes.byteLength, tail + 28)
    bytes.copy(out, tail + 32)
    tail += 32 + Math.ceil(bytes.byteLength / 32) * 32
  }
  const [at, action, tokenId, purpose, outcome, reason] = strings as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer]
  ;(v2 ? TAG_V2 : TAG_V1).copy(out, head)
  head += 32
  if (v2) word32(body.salt as string)
  out.writeBigUInt64BE(BigInt(body.seq), head + 24)
  head += 32
  text(at)
  address(body.actor)
  text(action)
  text(tokenId)
  address(patient)
  text(purpose)
  text(outcome)
  text(reason)
  word32(body.prev)
  return out
}

/**
 * Keccak-256 by js-sha3: the same function as viem's (@noble/hashes), about three times as fast on
 * these 0.5–1 KiB encodings, where hashing was the larger half of an entry's cost.
 */
function keccakHex(bytes: Uint8Array): Hex {
  return `0x${sha3.keccak256(bytes)}`
}

const CODE = /^[A-Za-z0-9][\w.:-]{0,63}$/
const TOKEN_ID = /^(0|[1-9]\d{0,77})$/
const BYTES32 = /^0x[0-9a-f]{64}$/
const SIGNATURE = /^0x[0-9a-f]{130}$/
const MAX_TOKEN_ID = 2n ** 256n - 1n
const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

/** Why a value is not a valid field, or undefined when it is. Messages name the field, never the value. */
const checks = {
  seq: (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : 'seq is not a non-negative integer'),
  at: (v: unknown) =>
    typeof v === 'string' && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v ? undefined : 'at is not a canonical ISO time',
  actor: (v: unknown) => checksummed(v, 'actor'),
  action: (v: unknown) => ((AUDIT_ACTIONS as readonly unknown[]).includes(v) ? undefined : 'action is not a known audit action'),
  tokenId: (v: unknown) =>
    typeof v === 'string' && TOKEN_ID.test(v) && BigInt(v) <= MAX_TOKEN_ID ? undefined : 'tokenId is not a canonical decimal token id',
  patient: (v: unknown) => checksummed(v, 'patient') ?? (v === zeroAddress ? 'patient is the zero address' : undefined),
  purpose: (v: unknown) => (typeof v === 'string' && CODE.test(v) ? undefined : 'purpose is not a short machine code'),
  outcome: (v: unknown) => ((AUDIT_OUTCOMES as readonly unknown[]).includes(v) ? undefined : 'outcome is not "allowed" or "denied"'),
  reason: (v: unknown) => (typeof v === 'string' && CODE.test(v) ? undefined : 'reason is not a short machine code'),
  salt: (v: unknown) => (typeof v === 'string' && BYTES32.test(v) ? undefined : 'salt is not 32 lower-case hex bytes'),
  prev: (v: unknown) => (typeof v === 'string' && BYTES32.test(v) ? undefined : 'prev is not a lower-case 32-byte hex hash'),
  hash: (v: unknown) => (typeof v === 'string' && BYTES32.test(v) ? undefined : 'hash is not a lower-case 32-byte hex hash'),
  sig: (v: unknown) => (typeof v === 'string' && SIGNATURE.test(v) ? undefined : 'sig is not a 65-byte hex signature'),
  proof: (v: unknown) =>
    Array.isArray(v) && v.length <= MAX_PROOF_LENGTH && v.every((h) => typeof h === 'string' && BYTES32.test(h))
      ? undefined
      : 'proof is not a list of lower-case 32-byte hex hashes',
} as const

function checksummed(v: unknown, field: string): string | undefined {
  if (typeof v !== 'string' || !isAddress(v, { strict: false })) return `${field} is not an address`
  return getAddress(v) === v ? undefined : `${field} is not a checksummed address`
}

const REQUIRED = ['seq', 'at', 'actor', 'action', 'outcome', 'prev', 'hash', 'sig'] as const
const OPTIONAL = ['tokenId', 'patient', 'purpose', 'reason', 'salt', 'proof'] as const
const KNOWN_KEYS = new Set<string>([...REQUIRED, ...OPTIONAL])
const EVENT_KEYS = new Set<string>(['actor', 'action', 'tokenId', 'patient', 'purpose', 'outcome', 'reason'])

/** The parts of a line the chain and the anchors need; readable even when other fields are not. */
export type AuditFrame = { seq: number; prev: Hex; hash: Hex; sig: Hex; proof?: Hex[] }

export type ParsedLine =
  | { ok: true; entry: AuditEntry }
  /** `frame` is set when seq, prev, hash and sig are well-formed, so the line still links the chain. */
  | { ok: false; error: string; frame: AuditFrame | undefined }

/** Parses and validates one JSON line. Never throws; the error names the field, never its value. */
export function parseAuditLine(text: string): ParsedLine {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, error: 'the line is not JSON', frame: undefined }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { ok: false, error: 'the line is not a JSON object', frame: undefined }
  const o = json as Record<string, unknown>
  const frameOk = !checks.seq(o.seq) && !checks.prev(o.prev) && !checks.hash(o.hash) && !checks.sig(o.sig)
  const proofOk = o.proof === undefined || !checks.proof(o.proof)
  const frame: AuditFrame | undefined =
    frameOk && proofOk
      ? {
          seq: o.seq as number,
          prev: o.prev as Hex,
          hash: o.hash as Hex,
          sig: o.sig as Hex,
          ...(o.proof === undefined ? {} : { proof: o.proof as Hex[] }),
        }
      : undefined
  const fail = (error: string): ParsedLine => ({ ok: false, error, frame })
  for (const key of Object.keys(o)) if (!KNOWN_KEYS.has(key)) return fail('the entry has an unexpected field')
  for (const key of REQUIRED) {
    if (!(key in o)) return fail(`${key} is missing`)
    const problem = checks[key](o[key])
    if (problem) return fail(problem)
  }
  for (const key of OPTIONAL) {
    if (key in o) {
      const problem = checks[key](o[key])
      if (problem) return fail(problem)
    }
  }
  return { ok: true, entry: toEntry(o) }
}

/** Builds an entry with the fields in their canonical order (also the order of the JSON line). */
function toEntry(o: Record<string, unknown>): AuditEntry {
  const entry: Record<string, unknown> = {}
  for (const key of [
    'seq',
    'at',
    'actor',
    'action',
    'tokenId',
    'patient',
    'purpose',
    'outcome',
    'reason',
    'salt',
    'prev',
    'hash',
    'sig',
    'proof',
  ]) {
    if (o[key] !== undefined) entry[key] = o[key]
  }
  return entry as AuditEntry
}

/** Checks and normalises a caller's event (checksums addresses, token id to decimal). Returns the problem, or the fields. */
export function normalizeAuditEvent(
  event: AuditEvent,
): { ok: true; fields: Omit<AuditEntryBody, 'seq' | 'at' | 'prev'> } | { ok: false; error: string } {
  const o: Record<string, unknown> = {
    actor: typeof event.actor === 'string' && isAddress(event.actor, { strict: false }) ? getAddress(event.actor) : event.actor,
    action: event.action,
    outcome: event.outcome,
  }
  if (event.tokenId !== undefined) o.tokenId = typeof event.tokenId === 'bigint' ? event.tokenId.toString() : event.tokenId
  if (event.patient !== undefined)
    o.patient = typeof event.patient === 'string' && isAddress(event.patient, { strict: false }) ? getAddress(event.patient) : event.patient
  if (event.purpose !== undefined) o.purpose = event.purpose
  if (event.reason !== undefined) o.reason = event.reason
  for (const key of Object.keys(event)) if (!EVENT_KEYS.has(key)) return { ok: false, error: `${key} is not an audit event field` }
  for (const key of ['actor', 'action', 'outcome', 'tokenId', 'patient', 'purpose', 'reason'] as const) {
    if (key in o) {
      const problem = checks[key](o[key])
      if (problem) return { ok: false, error: problem }
    }
  }
  return { ok: true, fields: toEntry(o) }
}

/** The body of an entry (everything but hash, sig and proof). */
export function auditEntryBody(entry: AuditEntry): AuditEntryBody {
  const { hash: _hash, sig: _sig, proof: _proof, ...body } = entry
  return body
}

/** Hashes and signs a body with the log's key. */
export async function signAuditEntry(signer: LocalAccount, fields: AuditEntryBody): Promise<AuditEntry> {
  // A caller may hand in a whole entry to re-sign: its old hash, signature and burst proof go.
  const body = auditEntryBody(fields as AuditEntry)
  const hash = hashAuditEntry(body)
  const sig = await signer.signMessage({ message: { raw: hash } })
  return { ...body, hash, sig }
}

/** What the log key signs for a burst whose Merkle root is `root`. */
export function auditBurstDigest(root: Hex): Hex {
  if (!HEX_32.test(root)) return keccak256(encodeAbiParameters(BURST_ENCODING, [AUDIT_BURST_TAG, root]))
  return keccakHex(Buffer.from(`${AUDIT_BURST_TAG.slice(2)}${root.slice(2)}`, 'hex'))
}

/** The root `proof` leads to from leaf `hash`: OpenZeppelin's MerkleProof.processProof (sorted pairs). */
export function auditBurstRoot(hash: Hex, proof: readonly Hex[]): Hex {
  let node = hash
  for (const sibling of proof) node = hashPair(node, sibling)
  return node
}

/**
 * Signs one burst of chained bodies (in seq order, each `prev` the hash before it) with a single
 * signature over their Merkle root; each entry gets that signature and its own proof.
 */
export async function signAuditBurst(
  signer: LocalAccount,
  bodies: readonly AuditEntryBody[],
  hashes: readonly Hex[] = bodies.map(hashAuditEntry),
): Promise<AuditEntry[]> {
  if (bodies.length === 0) return []
  const tree = burstTree(hashes)
  const sig = await signer.signMessage({ message: { raw: auditBurstDigest(tree[0]!) } })
  return bodies.map((body, i) => ({ ...body, hash: hashes[i]!, sig, proof: burstProof(tree, tree.length - 1 - i) }))
}

/*
 * The tree as OpenZeppelin's SimpleMerkleTree.of(hashes, { sortLeaves: false }) lays it out (the
 * tests compare the two): an array of 2n - 1 nodes, root first, leaf i at index length - 1 - i,
 * node k over nodes 2k + 1 and 2k + 2. Built here because the library's input checks and
 * conversions cost more than the hashing, and the log builds one tree per group commit.
 */
function burstTree(hashes: readonly Hex[]): Hex[] {
  const tree = new Array<Hex>(2 * hashes.length - 1)
  for (const [i, hash] of hashes.entries()) tree[tree.length - 1 - i] = hash
  for (let k = tree.length - 1 - hashes.length; k >= 0; k--) tree[k] = hashPair(tree[2 * k + 1]!, tree[2 * k + 2]!)
  return tree
}

function burstProof(tree: readonly Hex[], index: number): Hex[] {
  const proof: Hex[] = []
  for (let k = index; k > 0; k = (k - 1) >> 1) proof.push(tree[k % 2 === 1 ? k + 1 : k - 1]!)
  return proof
}

/** OpenZeppelin's sorted-pair node hash (hex strings of equal length sort as their bytes do). */
function hashPair(a: Hex, b: Hex): Hex {
  const [low, high] = a < b ? [a, b] : [b, a]
  // Buffer's hex decoding stops at the first bad character where viem throws: only checked hashes take it.
  if (!HEX_32.test(low) || !HEX_32.test(high)) return keccak256(concatHex([low, high]))
  return keccakHex(Buffer.from(`${low.slice(2)}${high.slice(2)}`, 'hex'))
}

/**
 * Whether the log key `signer` signed this entry: its own signature over `hash`, or with a `proof`,
 * its burst's signature. Pass the same `verified` map for the entries of one log, so a burst's
 * signature is recovered once, not once per entry. It does not recompute the hash from the fields
 * (hashAuditEntry does).
 */
export async function isAuditEntrySignedBy(
  frame: Pick<AuditFrame, 'hash' | 'sig' | 'proof'>,
  signer: Address,
  verified?: Map<string, boolean>,
): Promise<boolean> {
  if (frame.proof === undefined) return isAuditSignatureBy(frame.hash, frame.sig, signer)
  if (frame.proof.length > MAX_PROOF_LENGTH) return false
  const digest = auditBurstDigest(auditBurstRoot(frame.hash, frame.proof))
  const key = `${digest}${frame.sig}${signer}`
  const known = verified?.get(key)
  if (known !== undefined) return known
  const ok = await isAuditSignatureBy(digest, frame.sig, signer)
  verified?.set(key, ok)
  return ok
}

/**
 * Whether `sig` is `signer`'s EIP-191 signature over the 32 bytes of `hash`. Only canonical
 * (low-s, v 27/28) signatures count, so nobody but the signer can produce a second valid `sig`.
 */
export async function isAuditSignatureBy(hash: Hex, sig: Hex, signer: Address): Promise<boolean> {
  if (!SIGNATURE.test(sig.toLowerCase())) return false
  const s = BigInt(`0x${sig.slice(66, 130)}`)
  const v = Number.parseInt(sig.slice(130, 132), 16)
  if (s === 0n || s > SECP256K1_HALF_N || (v !== 27 && v !== 28)) return false
  try {
    const recovered = await recoverMessageAddress({ message: { raw: hash }, signature: sig })
    return recovered.toLowerCase() === signer.toLowerCase()
  } catch {
    return false
  }
}

/** The entry as one JSON line (no newline), fields in canonical order. */
export function auditEntryLine(entry: AuditEntry): string {
  return JSON.stringify(toEntry(entry as unknown as Record<string, unknown>))
}
