/**
 * Sign-In with Ethereum (EIP-4361, https://eips.ethereum.org/EIPS/eip-4361) on viem's SIWE
 * utilities: the server hands out a single-use nonce, the client signs a message naming this
 * server's domain and chain, and the server answers with a short-lived session token.
 */
import { randomBytes } from 'node:crypto'
import { type Chain, type Hex, type PublicClient, type Transport, getAddress } from 'viem'
import { parseSiweMessage } from 'viem/siwe'
import { HttpError } from '../outcomes.js'
import type { SessionTokens } from './sessionToken.js'

/** Where nonces live between /auth/nonce and /auth/login; shared by every server of a deployment. */
export interface NonceStore {
  putNonce(nonce: string, expiresAt: Date): Promise<void>
  /** True exactly once for a nonce that was put and has not expired. */
  consumeNonce(nonce: string, now: Date): Promise<boolean>
}

export type SiweAuthOptions = {
  publicClient: PublicClient<Transport, Chain>
  chainId: number
  /** RFC 3986 authorities a message may name, e.g. `localhost:8788`. */
  domains: string[]
  /** Origins (RFC 6454) the message's `uri` may be at, e.g. `http://localhost:8788`; EIP-4361 asks the server to check it. */
  origins: string[]
  nonces: NonceStore
  tokens: SessionTokens
  /** How long a nonce may wait for its login. */
  nonceTtlSeconds?: number
  /** Oldest `issuedAt` accepted when the message sets no `expirationTime`. */
  maxMessageAgeSeconds?: number
}

const CLOCK_SKEW_MS = 60_000

/** Bytes of randomness in a nonce: 128 bits, as hex (EIP-4361 wants at least 8 alphanumerics). */
const NONCE_BYTES = 16

/**
 * A nonce from the operating system's CSPRNG. Not viem's `generateSiweNonce`: it reads a buffer
 * filled from `Math.random`, and each of its nonces is the previous one shifted by one character,
 * so a stranger could predict the next nonce and spend it first (nonce burning).
 */
export function generateNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex')
}

/** The origin of a URI, or undefined when it is not an absolute URI with one. */
function originOf(uri: string): string | undefined {
  try {
    const origin = new URL(uri).origin
    return origin === 'null' ? undefined : origin
  } catch {
    return undefined
  }
}

function refuse(message: string, hint?: string): never {
  throw new HttpError(401, 'login', message, hint ? { hint } : {})
}

export function createSiweAuth(options: SiweAuthOptions) {
  const nonceTtl = (options.nonceTtlSeconds ?? 300) * 1000
  const maxAge = (options.maxMessageAgeSeconds ?? 600) * 1000

  return {
    async nonce(): Promise<{ nonce: string; expiresAt: Date }> {
      const nonce = generateNonce()
      const expiresAt = new Date(Date.now() + nonceTtl)
      await options.nonces.putNonce(nonce, expiresAt)
      return { nonce, expiresAt }
    },

    async login(params: { message: string; signature: Hex }) {
      const now = new Date()
      const fields = parseSiweMessage(params.message)
      if (!fields.address || !fields.domain || !fields.nonce || !fields.uri || !fields.version || !fields.issuedAt || !fields.chainId) {
        throw new HttpError(400, 'invalid', 'This is not a complete Sign-In with Ethereum (EIP-4361) message.', {
          hint: 'It needs a domain, address, URI, version, chain id, nonce and issued-at time.',
        })
      }
      if (!options.domains.includes(fields.domain)) {
        refuse(`The message signs in to ${fields.domain}, not to this server.`, `Sign a message for ${options.domains[0]}.`)
      }
      const origin = originOf(fields.uri)
      if (!origin || !options.origins.includes(origin)) {
        refuse('The message names a URI that is not on this server.', `Sign a message whose URI is ${options.origins[0]}.`)
      }
      if (fields.chainId !== options.chainId) {
        refuse(`The message is for chain ${fields.chainId}; this server runs on chain ${options.chainId}.`)
      }
      if (fields.expirationTime && fields.expirationTime.getTime() <= now.getTime())
        refuse('The sign-in message has expired.', 'Sign a new one.')
      if (fields.notBefore && fields.notBefore.getTime() > now.getTime() + CLOCK_SKEW_MS) refuse('The sign-in message is not valid yet.')
      if (fields.issuedAt.getTime() > now.getTime() + CLOCK_SKEW_MS)
        refuse('The sign-in message was issued in the future; check the clock.')
      if (!fields.expirationTime && now.getTime() - fields.issuedAt.getTime() > maxAge) {
        refuse('The sign-in message is too old.', 'Sign a new one; messages without an expiration time are accepted for 10 minutes.')
      }
      const valid = await options.publicClient
        .verifySiweMessage({ message: params.message, signature: params.signature, time: now })
        .catch(() => false)
      if (!valid) refuse('The signature does not match the address in the sign-in message.')
      // Last, so a bad signature cannot burn someone else's nonce; atomic, so a replay loses.
      if (!(await options.nonces.consumeNonce(fields.nonce, now))) {
        refuse('The nonce in the sign-in message is unknown, expired or already used.', 'Get a fresh one from GET /auth/nonce.')
      }
      const address = getAddress(fields.address)
      const { token, expiresAt } = await options.tokens.issue(address, options.chainId)
      return { token, expiresAt, address }
    },
  }
}

export type SiweAuth = ReturnType<typeof createSiweAuth>
