import { inflateRawSync } from 'node:zlib'
import { type JWK, calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK } from 'jose'
import { HEALTH_CARD_TYPE, type HealthCardPayload, RID_PATTERN } from './issue.js'
import { MAX_CHUNK_JWS_LENGTH, MAX_SINGLE_QR_JWS_LENGTH, fromQrChunks, parseQrChunk } from './qr.js'

export type CheckId =
  | 'format'
  | 'size'
  | 'issuer'
  | 'signature'
  | 'nbf'
  | 'exp'
  | 'revocation'
  | 'fhir'
  /** Set by callers that also compare the card with on-chain records. */
  | 'record'
export type Check = { id: CheckId; ok: boolean; message: string }

export type ResolvedIssuer = { keys: JWK[]; name: string; source: string }

export type VerifyOptions = {
  /** Trust decision + key discovery for an `iss`; undefined means the issuer is not trusted. */
  resolveIssuer(iss: string): ResolvedIssuer | undefined | Promise<ResolvedIssuer | undefined>
  /** True if `rid` is revoked for (iss, kid); `nbf` is passed so timestamped CRL entries can be applied (see isRidRevoked). */
  isRevoked?(iss: string, kid: string, rid: string, nbf: number): boolean | Promise<boolean>
  /** Verification time, seconds since the epoch (default now). */
  now?: number
  /** Allowed clock skew for nbf/exp, seconds (default 300). */
  clockSkewSeconds?: number
  /** Upper bound on the compact JWS length (default 1 MiB); not from the spec, a safety limit. */
  maxJwsLength?: number
  /** Upper bound on the inflated payload (default 4 MiB); not from the spec, protects against deflate bombs. */
  maxPayloadBytes?: number
  /** Also require the JWS to fit a single QR (<= 1195 characters), whatever the input form. */
  requireQrSize?: boolean
}

export type Verdict = {
  valid: boolean
  checks: Check[]
  issuer: { iss: string; name: string; source: string } | undefined
  kid: string | undefined
  payload: HealthCardPayload | undefined
  jws: string | undefined
}

const DEFAULT_MAX_JWS = 1024 * 1024
const DEFAULT_MAX_PAYLOAD = 4 * 1024 * 1024
const DEFAULT_SKEW = 300

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e))

type Extracted = { ok: true; jws: string; qr: 'single' | 'chunked' | undefined } | { ok: false; message: string }

function extractFromFileJson(text: string): { jwsList: string[] } | { message: string } {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    return { message: `input looks like JSON but does not parse: ${errMsg(e)}` }
  }
  const list = isObject(doc) ? doc.verifiableCredential : undefined
  if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string')) {
    return { message: 'health card file must have a non-empty verifiableCredential array of JWS strings' }
  }
  return { jwsList: list as string[] }
}

function extract(input: string | readonly string[]): Extracted {
  try {
    if (Array.isArray(input)) return { ok: true, jws: fromQrChunks(input), qr: input.length > 1 ? 'chunked' : 'single' }
    const text = (input as string).trim()
    if (text.toLowerCase().startsWith('shc:/')) {
      const chunk = parseQrChunk(text)
      if (chunk.total !== 1) return { ok: false, message: `QR chunk ${chunk.index} of ${chunk.total}: pass all chunks as an array` }
      return { ok: true, jws: chunk.jws, qr: 'single' }
    }
    if (text.startsWith('{')) {
      const f = extractFromFileJson(text)
      if ('message' in f) return { ok: false, message: f.message }
      if (f.jwsList.length !== 1) {
        return { ok: false, message: `file holds ${f.jwsList.length} credentials; use verifyHealthCards for multi-card files` }
      }
      return { ok: true, jws: f.jwsList[0]!, qr: undefined }
    }
    return { ok: true, jws: text, qr: undefined }
  } catch (e) {
    return { ok: false, message: errMsg(e) }
  }
}

/** Verifies every credential of a `.smart-health-card` file (or a single JWS / QR text). Never throws. */
export async function verifyHealthCards(input: string, opts: VerifyOptions): Promise<Verdict[]> {
  const text = typeof input === 'string' ? input.trim() : ''
  if (text.startsWith('{')) {
    const f = extractFromFileJson(text)
    if ('jwsList' in f) return Promise.all(f.jwsList.map((jws) => verifyHealthCard(jws, opts)))
  }
  return [await verifyHealthCard(input, opts)]
}

/**
 * Verifies one SMART Health Card given as a compact JWS, `shc:/` QR text, an array of `shc:/C/N/` chunk texts, or a
 * `.smart-health-card` file holding one credential. Never throws: problems are reported as failed checks.
 */
export async function verifyHealthCard(input: string | readonly string[], opts: VerifyOptions): Promise<Verdict> {
  const checks: Check[] = []
  const verdict: Verdict = { valid: false, checks, issuer: undefined, kid: undefined, payload: undefined, jws: undefined }
  const pass = (id: CheckId, message: string) => checks.push({ id, ok: true, message })
  const fail = (id: CheckId, message: string) => {
    checks.push({ id, ok: false, message })
    return verdict
  }
  try {
    return await run()
  } catch (e) {
    // Defensive: a throwing callback or an unexpected library error still yields a verdict.
    return fail('format', `unexpected error: ${errMsg(e)}`)
  }

  async function run(): Promise<Verdict> {
    if (typeof input !== 'string' && !Array.isArray(input)) return fail('format', 'input must be a string')
    const ex = extract(input)
    if (!ex.ok) return fail('format', ex.message)
    const jws = ex.jws
    verdict.jws = jws

    // size (before any parsing or inflating)
    const maxJws = opts.maxJwsLength ?? DEFAULT_MAX_JWS
    if (jws.length > maxJws) return fail('size', `JWS is ${jws.length} characters; limit is ${maxJws}`)
    if ((ex.qr === 'single' || opts.requireQrSize) && jws.length > MAX_SINGLE_QR_JWS_LENGTH) {
      return fail('size', `JWS is ${jws.length} characters; a single QR allows at most ${MAX_SINGLE_QR_JWS_LENGTH}`)
    }
    if (ex.qr === 'chunked' && Array.isArray(input)) {
      for (const t of input) {
        const c = parseQrChunk(t)
        if (c.jws.length > MAX_CHUNK_JWS_LENGTH)
          return fail('size', `QR chunk ${c.index} holds ${c.jws.length} characters; max ${MAX_CHUNK_JWS_LENGTH}`)
      }
    }

    // format: compact JWS with the required header
    const parts = jws.split('.')
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
      return fail('format', 'not a compact JWS (three base64url parts)')
    }
    let header: Json
    try {
      header = decodeProtectedHeader(jws) as Json
    } catch (e) {
      return fail('format', `unreadable JWS header: ${errMsg(e)}`)
    }
    if (header.alg !== 'ES256') return fail('format', `header alg must be ES256, got ${String(header.alg)}`)
    if (header.zip !== 'DEF') return fail('format', `header zip must be DEF, got ${String(header.zip)}`)
    if (typeof header.kid !== 'string' || header.kid === '') return fail('format', 'header has no kid')
    if (header.crit !== undefined) return fail('format', 'header crit is not supported')
    const kid = header.kid
    verdict.kid = kid

    // inflate (bounded)
    const maxPayload = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
    let inflated: Buffer
    try {
      inflated = inflateRawSync(Buffer.from(parts[1]!, 'base64url'), { maxOutputLength: maxPayload })
    } catch (e) {
      const code = (e as { code?: string }).code
      if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        return fail('size', `inflated payload exceeds ${maxPayload} bytes`)
      }
      return fail('format', `payload is not raw DEFLATE: ${errMsg(e)}`)
    }
    pass('size', `JWS ${jws.length} characters, payload ${inflated.length} bytes inflated`)

    let payload: HealthCardPayload
    try {
      const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(inflated))
      if (!isObject(parsed)) return fail('format', 'payload is not a JSON object')
      if (typeof parsed.iss !== 'string') return fail('format', 'payload has no iss')
      if (typeof parsed.nbf !== 'number' || !Number.isFinite(parsed.nbf)) return fail('format', 'payload has no numeric nbf')
      if (parsed.exp !== undefined && (typeof parsed.exp !== 'number' || !Number.isFinite(parsed.exp))) {
        return fail('format', 'payload exp is not a number')
      }
      if (!isObject(parsed.vc)) return fail('format', 'payload has no vc claim')
      payload = parsed as unknown as HealthCardPayload
    } catch (e) {
      return fail('format', `payload is not UTF-8 JSON: ${errMsg(e)}`)
    }
    verdict.payload = payload
    pass('format', 'compact JWS, header {alg: ES256, zip: DEF, kid}, DEFLATE-compressed JSON payload')

    // issuer
    const iss = payload.iss
    let resolved: ResolvedIssuer | undefined
    try {
      resolved = await opts.resolveIssuer(iss)
    } catch (e) {
      return fail('issuer', `issuer lookup failed for ${iss}: ${errMsg(e)}`)
    }
    if (!resolved || !Array.isArray(resolved.keys)) return fail('issuer', `issuer ${iss} is not trusted`)
    verdict.issuer = { iss, name: resolved.name, source: resolved.source }
    pass('issuer', `trusted issuer ${resolved.name} (${resolved.source})`)

    // signature with the kid's key
    const key = resolved.keys.find((k) => k.kid === kid)
    if (!key) return fail('signature', `issuer ${iss} has no key with kid ${kid}`)
    if (
      key.kty !== 'EC' ||
      key.crv !== 'P-256' ||
      (key.use !== undefined && key.use !== 'sig') ||
      (key.alg !== undefined && key.alg !== 'ES256')
    ) {
      return fail('signature', `key ${kid} is not an ES256 signing key`)
    }
    if (key.d !== undefined) return fail('signature', `key ${kid} published with private material`)
    let signedPayload: Uint8Array
    try {
      if ((await calculateJwkThumbprint(key, 'sha256')) !== kid)
        return fail('signature', `kid ${kid} is not the RFC 7638 thumbprint of its key`)
      const pub = await importJWK({ kty: 'EC', crv: 'P-256', x: key.x!, y: key.y! }, 'ES256')
      signedPayload = (await compactVerify(jws, pub, { algorithms: ['ES256'] })).payload
    } catch (e) {
      return fail('signature', `signature does not verify: ${errMsg(e)}`)
    }
    if (!Buffer.from(signedPayload).equals(Buffer.from(parts[1]!, 'base64url'))) return fail('signature', 'signed payload mismatch')
    pass('signature', `ES256 signature verified with key ${kid}`)

    // nbf / exp
    const now = opts.now ?? Math.floor(Date.now() / 1000)
    const skew = opts.clockSkewSeconds ?? DEFAULT_SKEW
    if (payload.nbf > now + skew) fail('nbf', `not valid before ${new Date(payload.nbf * 1000).toISOString()}`)
    else pass('nbf', `issued ${new Date(payload.nbf * 1000).toISOString()}`)
    if (payload.exp !== undefined) {
      if (payload.exp < now - skew) fail('exp', `expired at ${new Date(payload.exp * 1000).toISOString()}`)
      else pass('exp', `expires ${new Date(payload.exp * 1000).toISOString()}`)
    }

    // revocation
    const rid = (payload.vc as { rid?: unknown }).rid
    const crlVersion = (key as Json).crlVersion
    if (rid === undefined) {
      pass('revocation', 'card has no rid')
    } else if (typeof rid !== 'string' || !RID_PATTERN.test(rid)) {
      fail('revocation', 'rid must be base64url characters, at most 24')
    } else if (!opts.isRevoked) {
      if (crlVersion !== undefined)
        fail('revocation', `issuer publishes a CRL for ${kid} (crlVersion ${String(crlVersion)}) but no revocation source is configured`)
      else pass('revocation', 'no revocation source configured and issuer key has no crlVersion')
    } else {
      try {
        if (await opts.isRevoked(iss, kid, rid, payload.nbf)) fail('revocation', `rid ${rid} is revoked`)
        else pass('revocation', `rid ${rid} not revoked`)
      } catch (e) {
        fail('revocation', `revocation lookup failed: ${errMsg(e)}`)
      }
    }

    // FHIR content
    const vc = payload.vc as unknown as Json
    const subject = vc.credentialSubject
    const bundle = isObject(subject) ? subject.fhirBundle : undefined
    if (!Array.isArray(vc.type) || !vc.type.includes(HEALTH_CARD_TYPE)) fail('fhir', `vc.type must include ${HEALTH_CARD_TYPE}`)
    else if (!isObject(subject) || typeof subject.fhirVersion !== 'string') fail('fhir', 'vc.credentialSubject.fhirVersion missing')
    else if (!isObject(bundle) || bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry))
      fail('fhir', 'vc.credentialSubject.fhirBundle is not a FHIR Bundle with entries')
    else pass('fhir', `FHIR ${subject.fhirVersion} Bundle with ${bundle.entry.length} entries`)

    verdict.valid = checks.every((c) => c.ok)
    return verdict
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Card Revocation Lists (spec "Revocation"): `{iss}/.well-known/crl/{kid}.json`

export type Crl = { kid: string; method: 'rid'; ctr: number; rids: string[] }

/** URL of the per-key revocation list. */
export function crlUrl(iss: string, kid: string): string {
  return `${iss}/.well-known/crl/${encodeURIComponent(kid)}.json`
}

/** Validates a CRL document: `{ kid, method: 'rid', ctr, rids: ['rid' | 'rid.timestamp'] }`. Throws on a bad document. */
export function parseCrl(doc: unknown): Crl {
  const d = typeof doc === 'string' ? (JSON.parse(doc) as unknown) : doc
  if (!isObject(d)) throw new TypeError('CRL must be a JSON object')
  if (typeof d.kid !== 'string' || d.kid === '') throw new TypeError('CRL kid missing')
  if (d.method !== 'rid') throw new TypeError(`unsupported CRL method ${String(d.method)}`)
  // The spec's example shows ctr as a string placeholder; accept a numeric string or a number.
  const ctr = typeof d.ctr === 'string' && /^\d+$/.test(d.ctr) ? Number(d.ctr) : d.ctr
  if (typeof ctr !== 'number' || !Number.isInteger(ctr) || ctr < 1) throw new TypeError('CRL ctr must be a positive integer')
  if (!Array.isArray(d.rids)) throw new TypeError('CRL rids must be an array')
  for (const r of d.rids) {
    if (typeof r !== 'string' || !/^[A-Za-z0-9_-]{1,24}(\.\d+)?$/.test(r)) throw new TypeError(`bad CRL entry ${JSON.stringify(r)}`)
  }
  return { kid: d.kid, method: 'rid', ctr, rids: d.rids as string[] }
}

/**
 * True if a card with this rid and nbf is revoked by the CRL: an entry `rid` revokes every card with that rid; an entry
 * `rid.timestamp` revokes those whose nbf is before the timestamp.
 */
export function isRidRevoked(crl: Crl, rid: string, nbf: number): boolean {
  for (const entry of crl.rids) {
    const dot = entry.indexOf('.')
    if (dot < 0) {
      if (entry === rid) return true
    } else if (entry.slice(0, dot) === rid && nbf < Number(entry.slice(dot + 1))) {
      return true
    }
  }
  return false
}

/** An isRevoked callback backed by CRL documents keyed by `${iss}|${kid}` (or a lookup function). */
export function revocationCheckerFromCrls(
  crls: ReadonlyMap<string, Crl> | ((iss: string, kid: string) => Crl | undefined | Promise<Crl | undefined>),
): NonNullable<VerifyOptions['isRevoked']> {
  return async (iss, kid, rid, nbf) => {
    const crl = typeof crls === 'function' ? await crls(iss, kid) : crls.get(`${iss}|${kid}`)
    if (!crl) return false
    if (crl.kid !== kid) throw new Error(`CRL for ${kid} names kid ${crl.kid}`)
    return isRidRevoked(crl, rid, nbf)
  }
}
