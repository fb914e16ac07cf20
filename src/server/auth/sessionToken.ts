/**
 * Short-lived session tokens, issued after a Sign-In with Ethereum login. A JWT (jose, HS256) so
 * any server that shares the secret accepts it: servers behind a load balancer keep no sessions.
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
const AUDIENCE = 'medvault-api'

export function createSessionTokens(secret: Uint8Array, ttlSeconds: number): SessionTokens {
  if (secret.byteLength < 32) throw new Error('The session secret must be at least 32 bytes.')
  return {
    async issue(address, chainId) {
      const now = Math.floor(Date.now() / 1000)
      const token = await new SignJWT({ chainId })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(getAddress(address))
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .setJti(randomBytes(12).toString('base64url'))
        .sign(secret)
      return { token, expiresAt: new Date((now + ttlSeconds) * 1000) }
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] })
        if (!payload.sub || !isAddress(payload.sub) || typeof payload.chainId !== 'number' || !payload.exp) throw new Error('bad claims')
        return { address: getAddress(payload.sub), chainId: payload.chainId, expiresAt: new Date(payload.exp * 1000) }
      } catch (cause) {
        throw new HttpError(401, 'login', 'The session token is missing, invalid or expired.', {
          cause,
          hint: 'Sign in again: GET /auth/nonce, sign the message, POST /auth/login.',
        })
      }
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
