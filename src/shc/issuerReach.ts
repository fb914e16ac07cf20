import { BlockList, isIP } from 'node:net'

/**
 * Addresses no verifier outside this machine or network can reach: loopback, private ranges
 * (RFC 1918, RFC 4193), link-local, carrier-grade NAT, and "this network".
 */
const unreachable = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  unreachable.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  unreachable.addSubnet(net, prefix, 'ipv6')

/**
 * Why a verifier elsewhere could not fetch this issuer's keys (`{iss}/.well-known/jwks.json`), or
 * undefined when the URL looks public. A card with such an `iss` verifies only here, or wherever
 * the verifier was handed the keys by other means.
 */
export function issuerUrlReachProblem(iss: string): string | undefined {
  let url: URL
  try {
    url = new URL(iss)
  } catch {
    return `the issuer URL ${iss} is not a URL`
  }
  if (url.protocol !== 'https:') return `the issuer URL ${iss} is not https, and verifiers fetch keys over https only`
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const family = isIP(host)
  if (family !== 0) {
    const mapped = family === 6 && /^::ffff:/.test(host) ? host.slice(7) : undefined
    const blocked =
      mapped && isIP(mapped) === 4 ? unreachable.check(mapped, 'ipv4') : unreachable.check(host, family === 4 ? 'ipv4' : 'ipv6')
    return blocked ? `the issuer URL ${iss} names a loopback or private address` : undefined
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return `the issuer URL ${iss} names localhost, this machine`
  if (!host.includes('.') || /\.(local|internal|lan|home\.arpa|test|example|invalid)$/.test(host)) {
    return `the issuer URL ${iss} names ${host}, a host outside public DNS`
  }
  return undefined
}

/** The warning `shc issue` prints for such a URL: what is wrong and how to fix it. */
export function issuerUrlWarning(iss: string): string | undefined {
  const problem = issuerUrlReachProblem(iss)
  if (!problem) return undefined
  return (
    `Verifiers elsewhere cannot check this card: ${problem}. ` +
    'Serve medvault at a public https URL (a TLS proxy in front of the API) and run `medvault start --public-url https://HOST`, ' +
    'or set healthCards.issuerBaseUrl in config.json, then issue the card again.'
  )
}
