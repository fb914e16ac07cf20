/**
 * Where a verifier's trust in a card comes from, named in every verdict:
 * - the medvault registry: the issuer URL names a provider address; its keys and status are read
 *   from ProviderRegistry on chain, so trust in the card is trust in the registry;
 * - a JWKS file or URL the verifier chose to trust for one issuer (`--trust-jwks`);
 * - a VCI directory snapshot (issuers, names, keys, CRLs) imported by the verifier (`--trust-list`).
 */
import { readFile } from 'node:fs/promises'
import { type Address, type Hex, getAddress, isAddress } from 'viem'
import type { JWK } from 'jose'
import { providerRegistryAbi } from '../contracts/index.js'
import { InvalidInputError } from '../errors.js'
import type { RecordsContext } from '../core/index.js'
import { getProvider } from '../directory/index.js'
import { healthCardJwkFromChain } from './issuerKey.js'
import { readCrl } from './revocation.js'
import { type Crl, type VerifyOptions, parseCrl, revocationCheckerFromCrls } from './verify.js'
import type { ResolvedIssuer } from './verify.js'

export type TrustSource = {
  resolve(iss: string): Promise<ResolvedIssuer | undefined>
  /** Revocation lists by `${iss}|${kid}`. */
  crls?: Map<string, Crl>
}

/** The issuer URL of a medvault provider: `<base>/<address>`. */
export function medvaultIssuerUrl(base: string, provider: Address): string {
  return `${base.replace(/\/+$/, '')}/${getAddress(provider)}`
}

/** The provider address at the end of a medvault issuer URL, if it is one. */
export function providerOfIssuer(iss: string): Address | undefined {
  const last = iss.split('/').pop() ?? ''
  return isAddress(last) ? getAddress(last) : undefined
}

/**
 * Trusts issuers whose URL starts with `base` and whose keys and active status are on chain. With
 * `crlDir` (this node's revocation lists), keys that have a list carry `crlVersion` and
 * `isRevoked` answers from it.
 */
export function registryTrust(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  base: string,
  crlDir?: string,
): TrustSource & { isRevoked?: NonNullable<VerifyOptions['isRevoked']> } {
  const prefix = `${base.replace(/\/+$/, '')}/`
  const crlOf = (iss: string, kid: string) => {
    const provider = providerOfIssuer(iss)
    return crlDir && provider && iss.startsWith(prefix) ? readCrl(crlDir, provider, kid) : undefined
  }
  return {
    ...(crlDir ? { isRevoked: revocationCheckerFromCrls(crlOf) } : {}),
    async resolve(iss) {
      if (!iss.startsWith(prefix)) return undefined
      const provider = providerOfIssuer(iss)
      if (!provider) return undefined
      const info = await getProvider(ctx, provider)
      if (info.status !== 'active') return undefined
      const keys = await ctx.publicClient.readContract({
        address: ctx.deployment.registry,
        abi: providerRegistryAbi,
        functionName: 'healthCardKeysOf',
        args: [provider],
      })
      const jwks = await Promise.all(keys.map((k) => healthCardJwkFromChain(k.x as Hex, k.y as Hex)))
      return {
        keys: jwks.map((jwk) => {
          const crl = jwk.kid ? crlOf(iss, jwk.kid) : undefined
          return crl ? { ...jwk, crlVersion: crl.ctr } : jwk
        }),
        name: info.name,
        source: 'medvault provider registry (on chain)',
      }
    },
  }
}

async function readJson(fileOrUrl: string): Promise<unknown> {
  try {
    if (/^https?:\/\//.test(fileOrUrl)) {
      const res = await fetch(fileOrUrl, { signal: AbortSignal.timeout(10_000) })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      return await res.json()
    }
    return JSON.parse(await readFile(fileOrUrl, 'utf8'))
  } catch (cause) {
    throw new InvalidInputError(`Cannot read the trust source ${fileOrUrl}.`, { cause, hint: 'Give a JSON file or an http(s) URL.' })
  }
}

/** Trusts one issuer's JWKS (`{ keys: [...] }`), for the issuer URL given. */
export async function jwksTrust(iss: string, fileOrUrl: string): Promise<TrustSource> {
  const doc = (await readJson(fileOrUrl)) as { keys?: JWK[] }
  if (!Array.isArray(doc.keys)) throw new InvalidInputError(`${fileOrUrl} is not a JWKS ({ "keys": [...] }).`)
  const keys = doc.keys
  return { resolve: async (candidate) => (candidate === iss ? { keys, name: iss, source: `trusted JWKS ${fileOrUrl}` } : undefined) }
}

type VciSnapshot = {
  issuerInfo?: { issuer?: { iss?: string; name?: string }; keys?: JWK[]; crls?: unknown[] }[]
}

/** Trusts the issuers of a VCI directory snapshot (issuer URL, name, keys, CRLs). */
export async function vciDirectoryTrust(fileOrUrl: string): Promise<TrustSource> {
  const doc = (await readJson(fileOrUrl)) as VciSnapshot
  if (!Array.isArray(doc.issuerInfo)) throw new InvalidInputError(`${fileOrUrl} is not a VCI directory snapshot (issuerInfo[]).`)
  const issuers = new Map<string, ResolvedIssuer>()
  const crls = new Map<string, Crl>()
  for (const entry of doc.issuerInfo) {
    const iss = entry.issuer?.iss
    if (!iss || !Array.isArray(entry.keys)) continue
    issuers.set(iss, { keys: entry.keys, name: entry.issuer?.name ?? iss, source: `VCI directory ${fileOrUrl}` })
    for (const c of entry.crls ?? []) {
      try {
        const crl = parseCrl(c)
        crls.set(`${iss}|${crl.kid}`, crl)
      } catch {
        // a malformed CRL is ignored; keys without one are checked as unrevoked
      }
    }
  }
  return { resolve: async (iss) => issuers.get(iss), crls }
}

/** Tries each source in order; the first that knows the issuer decides. */
export function combineTrust(sources: TrustSource[]): TrustSource {
  const crls = new Map<string, Crl>()
  for (const source of sources) for (const [key, crl] of source.crls ?? []) crls.set(key, crl)
  return {
    crls,
    async resolve(iss) {
      for (const source of sources) {
        const found = await source.resolve(iss)
        if (found) return found
      }
      return undefined
    },
  }
}

/**
 * A VCI-directory snapshot of every active medvault provider that published card keys, for
 * verifiers that must work offline (a border post, a school): `shc verify --trust-list FILE --offline`.
 * It is only as fresh as its `exportedAt`; refresh it as often as suspensions must take effect.
 */
export async function exportTrustSnapshot(ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>, base: string) {
  const { listProviders } = await import('../directory/index.js')
  const providers = (await listProviders(ctx)).filter((p) => p.status === 'active')
  const issuerInfo = []
  for (const p of providers) {
    const keys = await ctx.publicClient.readContract({
      address: ctx.deployment.registry,
      abi: providerRegistryAbi,
      functionName: 'healthCardKeysOf',
      args: [p.address],
    })
    if (keys.length === 0) continue
    issuerInfo.push({
      issuer: { iss: medvaultIssuerUrl(base, p.address), name: p.name },
      keys: await Promise.all(keys.map((k) => healthCardJwkFromChain(k.x as Hex, k.y as Hex))),
    })
  }
  return {
    directory: 'medvault provider registry',
    chainId: ctx.deployment.chainId,
    registry: ctx.deployment.registry,
    exportedAt: new Date().toISOString(),
    issuerInfo,
  }
}
