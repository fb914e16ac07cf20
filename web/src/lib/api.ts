/**
 * The server's API, as the portal uses it: Sign-In with Ethereum signed in the browser, the
 * session token kept in memory only (signed in again when it expires), errors as plain sentences
 * taken from the server's OperationOutcomes.
 */
import { type Address, getAddress } from 'viem'
import { createSiweMessage } from 'viem/siwe'
import type { BrowserAccount } from './keystore.js'

export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

async function failure(res: Response): Promise<ApiError> {
  let message = `The server answered ${res.status}.`
  try {
    const body = (await res.json()) as { issue?: { diagnostics?: string }[] }
    message = body.issue?.[0]?.diagnostics ?? message
  } catch {
    // not an OperationOutcome
  }
  return new ApiError(res.status, message)
}

export type Me = {
  address: Address
  custodial: boolean
  provider: { name: string; status: string } | null
  /** An approved research organisation (may post studies). */
  researcher: boolean
  sessionExpiresAt: string
}

export type Api = {
  account: BrowserAccount
  get<T>(path: string): Promise<T>
  bytes(path: string): Promise<Uint8Array>
  post<T>(path: string, body: unknown): Promise<T>
  put<T>(path: string, body: unknown): Promise<T>
  del<T>(path: string): Promise<T>
}

async function login(account: BrowserAccount): Promise<string> {
  const res = await fetch('/auth/nonce')
  if (!res.ok) throw await failure(res)
  const { nonce, domain, uri, chainId } = (await res.json()) as { nonce: string; domain: string; uri: string; chainId: number }
  const message = createSiweMessage({
    address: account.address,
    chainId,
    domain,
    nonce,
    uri,
    version: '1',
    issuedAt: new Date(),
    expirationTime: new Date(Date.now() + 5 * 60_000),
    statement: 'Sign in to medvault.',
  })
  const signature = await account.chainAccount.signMessage({ message })
  const answer = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  })
  if (!answer.ok) throw await failure(answer)
  const { token, address } = (await answer.json()) as { token: string; address: string }
  if (getAddress(address) !== account.address) throw new ApiError(401, 'The server signed in another account.')
  return token
}

/** Signs `account` in and returns an API client that signs in again when the session runs out. */
export async function connect(account: BrowserAccount): Promise<Api> {
  let token = await login(account)
  async function call(path: string, init: RequestInit = {}, retry = true): Promise<Response> {
    const res = await fetch(path, { ...init, headers: { ...(init.headers ?? {}), authorization: `Bearer ${token}` } })
    if (res.status === 401 && retry) {
      token = await login(account)
      return call(path, init, false)
    }
    if (!res.ok) throw await failure(res)
    return res
  }
  const json = { 'content-type': 'application/json' }
  return {
    account,
    get: async (path) => (await call(path)).json(),
    bytes: async (path) => new Uint8Array(await (await call(path)).arrayBuffer()),
    post: async (path, body) => (await call(path, { method: 'POST', headers: json, body: JSON.stringify(body) })).json(),
    put: async (path, body) => (await call(path, { method: 'PUT', headers: json, body: JSON.stringify(body) })).json(),
    del: async (path) => (await call(path, { method: 'DELETE' })).json(),
  }
}
