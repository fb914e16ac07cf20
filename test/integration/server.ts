/** Helpers for talking to a real medvault server over its socket, as a client would. */
import type { Address } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'

export type SiweOverrides = Partial<Parameters<typeof createSiweMessage>[0]>

/** An EIP-4361 message for `address` with a fresh nonce from the server, `overrides` applied. */
export async function siweMessage(baseUrl: string, address: Address, overrides: SiweOverrides = {}): Promise<string> {
  const { nonce, domain, uri, chainId } = (await (await fetch(`${baseUrl}/auth/nonce`)).json()) as {
    nonce: string
    domain: string
    uri: string
    chainId: number
  }
  return createSiweMessage({
    address,
    chainId,
    domain,
    nonce,
    uri,
    version: '1',
    issuedAt: new Date(),
    statement: 'Sign in to medvault.',
    ...overrides,
  })
}

export function postLogin(baseUrl: string, message: string, signature: string): Promise<Response> {
  return fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  })
}

/** Gets a nonce, signs a message for `account` (with `overrides` applied) and posts it. Returns the raw response. */
export async function siweLogin(baseUrl: string, account: LocalAccount, overrides: SiweOverrides = {}): Promise<Response> {
  const message = await siweMessage(baseUrl, account.address, overrides)
  return postLogin(baseUrl, message, await account.signMessage({ message }))
}

/** Signs in and returns the session token. */
export async function sessionToken(baseUrl: string, account: LocalAccount): Promise<string> {
  const res = await siweLogin(baseUrl, account)
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { token: string }).token
}
