import type { Context } from 'hono'
import type { Address } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import type { AuditEvent } from '../audit/index.js'
import type { RecordsContext } from '../records/index.js'
import { tagTableFor } from '../consent/index.js'
import type { TagTable } from '../core/index.js'
import { getProvider } from '../directory/index.js'
import type { Session } from './auth/sessionToken.js'
import type { ServerDeps, ServerEnv } from './context.js'
import { HttpError } from './outcomes.js'

export const FHIR_CONTENT_TYPE = 'application/fhir+json; charset=utf-8'

/** The signed-in caller; the auth middleware has run, so a missing session is a 401. */
export function sessionOf(c: Context<ServerEnv>): Session {
  const session = c.get('session')
  if (!session) throw new HttpError(401, 'login', 'Sign in first.', { hint: 'GET /auth/nonce, sign the message, POST /auth/login.' })
  return session
}

/**
 * What `caller` knows of `patient`'s category tags, when this server holds the caller's keys: the
 * whole table for the patient, the one the patient shared otherwise. Undefined for a caller whose
 * keys stay on its side (it maps tags itself) or who was given no table: its records list as
 * category "unknown", never a guess.
 */
export async function viewerTable(deps: ServerDeps, caller: Address, patient: Address): Promise<TagTable | undefined> {
  const reader = await deps.keyring.get(caller)
  return reader ? tagTableFor(deps.ctx, { patient, reader }) : undefined
}

/** The caller's keys, for what only they can do on the server side (decrypt, sign). */
export async function custodialAccount(deps: ServerDeps, address: Address): Promise<UnlockedAccount> {
  const account = await deps.keyring.get(address)
  if (!account) {
    throw new HttpError(403, 'forbidden', 'This server does not hold the keys of your account, so it cannot decrypt or sign for you.', {
      hint: 'Fetch the ciphertext and your key slip (/api/records/{id}/envelope, /api/records/{id}/key-slip) and open them on your side, or use the medvault home that holds your keys.',
    })
  }
  return account
}

/** The caller's keys, when the caller is an active registered provider: only they issue records. */
export async function custodialProvider(deps: ServerDeps, address: Address): Promise<UnlockedAccount> {
  const provider = await getProvider(deps.ctx, address)
  if (provider.status !== 'active') {
    throw new HttpError(403, 'forbidden', 'Only an active registered provider can issue records.', {
      hint:
        provider.status === 'unregistered'
          ? 'Ask the registrar to register this account as a provider.'
          : `This provider is ${provider.status}.`,
    })
  }
  return custodialAccount(deps, address)
}

/** Appends to the node's signed audit log: who, what, which record or patient, allowed or denied. Never content. */
export async function audit(deps: ServerDeps, event: AuditEvent): Promise<void> {
  await deps.auditLog.append(event)
}

export function fhirResponse(c: Context<ServerEnv>, body: unknown, status: 200 | 201 = 200): Response {
  return c.body(JSON.stringify(body), status, { 'content-type': FHIR_CONTENT_TYPE })
}

/** JSON with bigints as decimal strings and dates as ISO strings. */
export function jsonResponse(c: Context<ServerEnv>, body: unknown, status: 200 | 201 = 200): Response {
  return c.body(
    JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
    status,
    {
      'content-type': 'application/json; charset=utf-8',
    },
  )
}

export function parseTokenIdParam(value: string): bigint {
  if (!/^[1-9]\d{0,30}$/.test(value))
    throw new HttpError(404, 'not-found', `There is no record "${value}".`, { hint: 'Record ids are token ids, e.g. 7.' })
  return BigInt(value)
}

/**
 * The records context of one request: with a read cache, one head block throughout, fetched after
 * the request arrived, so every chain answer it uses is at least as new as the request.
 */
export async function requestContext(deps: ServerDeps): Promise<RecordsContext> {
  const cache = deps.ctx.readCache
  return cache ? { ...deps.ctx, readCache: cache.pin(await cache.head()) } : deps.ctx
}
