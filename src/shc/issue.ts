import { deflateRawSync } from 'node:zlib'
import type { Bundle } from '@medplum/fhirtypes'
import { CompactSign, type JWK, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose'
import { minimizeBundle } from './minimize.js'

/** The one type every SMART Health Card SHALL carry. */
export const HEALTH_CARD_TYPE = 'https://smarthealth.cards#health-card'

/** A revocation identifier: base64url alphabet, at most 24 characters (spec "Revocation"). */
export const RID_PATTERN = /^[A-Za-z0-9_-]{1,24}$/

export type HealthCardPayload = {
  iss: string
  nbf: number
  exp?: number
  vc: {
    type: string[]
    /** Revocation identifier (spec: "encoded in the `vc` claim of the JWT"). */
    rid?: string
    credentialSubject: { fhirVersion: string; fhirBundle: Bundle }
  }
}

export type IssuerKey = {
  /** ES256 (P-256) private key with kid, use and alg; keep it secret. */
  privateJwk: JWK
  /** Public key as published in `{iss}/.well-known/jwks.json`: kty, crv, x, y, kid (RFC 7638 thumbprint), use 'sig', alg 'ES256'. */
  publicJwk: JWK
}

export type IssueHealthCardOptions = {
  bundle: Bundle
  /** `iss`: https URL without a trailing slash. */
  issuerUrl: string
  privateJwk: JWK
  /** Seconds since the epoch; defaults to now. */
  nbf?: number
  /** Optional expiry, seconds since the epoch (spec "Expiration of Health Cards"). */
  exp?: number
  rid?: string
  /** Additional `vc.type` entries after `https://smarthealth.cards#health-card`. */
  types?: readonly string[]
  /** Apply the spec's QR minimization rules to the bundle (default true). */
  minimize?: boolean
}

export type IssuedHealthCard = { jws: string; payload: HealthCardPayload }

/** Checks the spec's rules for `iss`: https scheme, no trailing `/`. Returns a reason or undefined. */
export function issuerUrlProblem(iss: string): string | undefined {
  let url: URL
  try {
    url = new URL(iss)
  } catch {
    return `issuer URL is not a URL: ${iss}`
  }
  if (url.protocol !== 'https:') return `issuer URL must use https: ${iss}`
  if (iss.endsWith('/')) return `issuer URL must not end with "/": ${iss}`
  return undefined
}

/** RFC 7638 SHA-256 thumbprint, base64url: the `kid` the spec requires. */
export async function jwkKid(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256')
}

export async function generateIssuerKey(): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const pub = await exportJWK(publicKey)
  const priv = await exportJWK(privateKey)
  const kid = await jwkKid(pub)
  const publicJwk: JWK = { kty: 'EC', crv: 'P-256', x: pub.x!, y: pub.y!, kid, use: 'sig', alg: 'ES256' }
  const privateJwk: JWK = { ...publicJwk, d: priv.d! }
  return { privateJwk, publicJwk }
}

/** Public JWK without private material and with the spec's required members. */
export function publicJwkOf(jwk: JWK): JWK {
  const { kty, crv, x, y, kid, x5c } = jwk
  const out: JWK = { kty: kty ?? 'EC', crv: crv ?? 'P-256', x: x ?? '', y: y ?? '', use: 'sig', alg: 'ES256' }
  if (kid !== undefined) out.kid = kid
  if (x5c !== undefined) out.x5c = x5c
  const crlVersion = (jwk as Record<string, unknown>).crlVersion
  if (typeof crlVersion === 'number') (out as Record<string, unknown>).crlVersion = crlVersion
  return out
}

/** The JWK Set document for `{iss}/.well-known/jwks.json`; strips any private parameter. */
export function jwksOf(publicJwks: readonly JWK[]): { keys: JWK[] } {
  return { keys: publicJwks.map(publicJwkOf) }
}

function assertEs256Key(jwk: JWK): void {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw new TypeError('issueHealthCard: privateJwk must be an EC P-256 private key (ES256)')
  }
  if (jwk.alg !== undefined && jwk.alg !== 'ES256') throw new TypeError(`issueHealthCard: key alg ${jwk.alg} is not ES256`)
}

/** Minified JSON, raw DEFLATE, compact JWS with header { alg: 'ES256', zip: 'DEF', kid }. */
export async function issueHealthCard(opts: IssueHealthCardOptions): Promise<IssuedHealthCard> {
  const problem = issuerUrlProblem(opts.issuerUrl)
  if (problem) throw new TypeError(`issueHealthCard: ${problem}`)
  assertEs256Key(opts.privateJwk)
  if (opts.rid !== undefined && !RID_PATTERN.test(opts.rid)) {
    throw new TypeError('issueHealthCard: rid must use the base64url alphabet and be at most 24 characters')
  }
  const nbf = opts.nbf ?? Math.floor(Date.now() / 1000)
  if (!Number.isInteger(nbf) || nbf < 0) throw new TypeError('issueHealthCard: nbf must be a non-negative integer (seconds)')
  if (opts.exp !== undefined && (!Number.isInteger(opts.exp) || opts.exp <= nbf)) {
    throw new TypeError('issueHealthCard: exp must be an integer after nbf')
  }
  const fhirBundle = opts.minimize === false ? opts.bundle : minimizeBundle(opts.bundle)
  const types = [HEALTH_CARD_TYPE, ...(opts.types ?? []).filter((t) => t !== HEALTH_CARD_TYPE)]
  const payload: HealthCardPayload = {
    iss: opts.issuerUrl,
    nbf,
    ...(opts.exp !== undefined ? { exp: opts.exp } : {}),
    vc: {
      type: types,
      ...(opts.rid !== undefined ? { rid: opts.rid } : {}),
      credentialSubject: { fhirVersion: '4.0.1', fhirBundle },
    },
  }
  const kid = await jwkKid(opts.privateJwk)
  const key = await importJWK({ kty: 'EC', crv: 'P-256', x: opts.privateJwk.x!, y: opts.privateJwk.y!, d: opts.privateJwk.d! }, 'ES256')
  const deflated = deflateRawSync(Buffer.from(JSON.stringify(payload), 'utf8'))
  const jws = await new CompactSign(deflated).setProtectedHeader({ alg: 'ES256', zip: 'DEF', kid }).sign(key)
  return { jws, payload }
}
