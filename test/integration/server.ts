/** Helpers for talking to a real medvault server over its socket, as a client would. */
import type { LocalAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'

export type SiweOverrides = Partial<Parameters<typeof createSiweMessage>[0]>

/** Gets a nonce, signs an EIP-4361 message (with `overrides` applied) and posts it. Returns the raw response. */
export async function siweLogin(baseUrl: string, account: LocalAccount, overrides: SiweOverrides = {}): Promise<Response> {
  const { nonce, domain, uri, chainId } = (await (await fetch(`${baseUrl}/auth/nonce`)).json()) as {
    nonce: string
    domain: string
    uri: string
    chainId: number
  }
  const message = createSiweMessage({
    address: account.address,
    chainId,
    domain,
    nonce,
    uri,
    version: '1',
    issuedAt: new Date(),
    statement: 'Sign in to medvault.',
    ...overrides,
  })
  const signature = await account.signMessage({ message })
  return fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  })
}

/** Signs in and returns the session token. */
export async function sessionToken(baseUrl: string, account: LocalAccount): Promise<string> {
  const res = await siweLogin(baseUrl, account)
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { token: string }).token
}
