/**
 * Short-lived session tokens, issued after a Sign-In with Ethereum login. A JWT (jose, HS256) so
 * any server that shares the secret accepts it: servers behind a load balancer keep no sessions.
 *
 * A token's signature and claims never change, so a token that verified once is kept (by its exact
 * text) with its session until it expires: later requests with it check only the clock, not the
 * HMAC again (the HMAC was 6–9% of a grantee's read under load). A cached session is dropped the
 * second it expires, exactly when jose would start refusing it.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { SignJWT, jwtVerify } from 'jose'
import { type Address, getAddress, isAddress } from 'viem'
import { HttpError } from '../outcomes.js'

export type Session = { address: Address; chainId: number; expiresAt: Date }

export interface SessionTokens {
  issue(address: Address, chainId: number): Promise<{ token: string; expiresAt: Date }>
  /** Throws HttpError 401 for a missing, forged or expired token. */
  verify(token: string): Promise<Session>
}

const ISSUER = 'medvault'
/** Sessions kept verified; a server with more live sessions than this verifies the oldest again. */
const MAX_VERIFIED = 10_000
const AUDIENCE = 'medvault-api'

/**
 * Issues and verifies session tokens signed with `secret`.
 *
 * @param secret - The HS256 key, at least 32 bytes (see {@link loadSessionSecret}).
 * @param ttlSeconds - How long a token is valid after it is issued.
 * @param now - The clock, in ms since the epoch (tests pass their own).
 */
export function createSessionTokens(secret: Uint8Array, ttlSeconds: number, now: () => number = Date.now): SessionTokens {
  if (secret.byteLength < 32) throw new Error('The session secret must be at least 32 bytes.')
  const verified = new Map<string, Session>()
  const refuse = (cause: unknown) =>
    new HttpError(401, 'login', 'The session token is missing, invalid or expired.', {
      cause,
      hint: 'Sign in again: GET /auth/nonce, sign the message, POST /auth/login.',
    })
  return {
    async issue(address, chainId) {
      const issuedAt = Math.floor(now() / 1000)
      const token = await new SignJWT({ chainId })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(getAddress(address))
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + ttlSeconds)
        .setJti(randomBytes(12).toString('base64url'))
        .sign(secret)
      return { token, expiresAt: new Date((issuedAt + ttlSeconds) * 1000) }
    },
    async verify(token) {
      const known = verified.get(token)
      if (known) {
        // jose refuses a token once its exp (whole seconds) is not after the current second.
        if (Math.floor(now() / 1000) < known.expiresAt.getTime() / 1000) return known
        verified.delete(token)
        throw refuse(new Error('expired'))
      }
      let session: Session
      let cacheable: boolean
      try {
        const { payload } = await jwtVerify(token, secret, {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ['HS256'],
          currentDate: new Date(now()),
        })
        if (!payload.sub || !isAddress(payload.sub) || typeof payload.chainId !== 'number' || !payload.exp) throw new Error('bad claims')
        session = { address: getAddress(payload.sub), chainId: payload.chainId, expiresAt: new Date(payload.exp * 1000) }
        // A not-before time would make validity depend on more than expiry: such a token is checked every time.
        cacheable = payload.nbf === undefined
      } catch (cause) {
        throw refuse(cause)
      }
      if (!cacheable) return session
      if (verified.size >= MAX_VERIFIED) {
        const second = Math.floor(now() / 1000)
        for (const [t, s] of verified) if (second >= s.expiresAt.getTime() / 1000) verified.delete(t)
        if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value as string)
      }
      verified.set(token, session)
      return session
    },
  }
}

/**
 * The session secret: $MEDVAULT_SESSION_SECRET (hex, shared by every server of a deployment), else
 * a random one kept in the home.
 */
export function loadSessionSecret(file: string, env = process.env.MEDVAULT_SESSION_SECRET): Uint8Array {
  if (env) {
    const bytes = Buffer.from(env.replace(/^0x/, ''), 'hex')
    if (bytes.byteLength < 32) throw new Error('MEDVAULT_SESSION_SECRET must be at least 32 bytes, hex-encoded.')
    return bytes
  }
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    try {
      writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' })
    } catch (error) {
      // Another server on this home created it first; use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex')
}
