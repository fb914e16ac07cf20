import { type Server, createServer } from 'node:http'
import { getAddress, isAddress } from 'viem'
import { listenPreferring } from '../chain/index.js'
import type { RecordsContext } from '../core/index.js'
import { readCrl } from './revocation.js'
import { medvaultIssuerUrl, registryTrust } from './trust.js'

/**
 * What SMART Health Card verifiers fetch from an issuer, for every active medvault provider:
 * `{base path}/{address}/.well-known/jwks.json` (its keys, read from the on-chain registry) and
 * `{base path}/{address}/.well-known/crl/{kid}.json` (its revocation lists). Read-only, CORS open,
 * as the spec requires. Answers undefined for a path outside the base path. Served by
 * `startWellKnownServer` and by the API server (so one TLS proxy in front of it serves both).
 */
export function wellKnownResponder(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { issuerBaseUrl: string; crlDir: string },
): { basePath: string; respond(method: string, pathname: string): Promise<{ status: number; body: unknown }> | undefined } {
  const basePath = new URL(params.issuerBaseUrl).pathname.replace(/\/+$/, '')
  const trust = registryTrust(ctx, params.issuerBaseUrl, params.crlDir)
  const route = new RegExp(
    `^${basePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(0x[0-9a-fA-F]{40})/\\.well-known/(jwks\\.json|crl/([A-Za-z0-9_-]+)\\.json)$`,
  )
  return {
    basePath,
    respond(method, pathname) {
      // Only issuer paths: with an empty base path everything else on the host stays someone else's.
      if (!pathname.startsWith(`${basePath}/`) || !pathname.includes('/.well-known/')) return undefined
      const match = method === 'GET' || method === 'HEAD' ? route.exec(pathname) : null
      if (!match || !isAddress(match[1]!)) return Promise.resolve({ status: 404, body: { error: 'not found' } })
      const provider = getAddress(match[1]!)
      return (async () => {
        if (match[3]) {
          const crl = readCrl(params.crlDir, provider, match[3])
          return crl ? { status: 200, body: crl } : { status: 404, body: { error: 'no revocation list for this key' } }
        }
        const issuer = await trust.resolve(medvaultIssuerUrl(params.issuerBaseUrl, provider))
        return issuer ? { status: 200, body: { keys: issuer.keys } } : { status: 404, body: { error: 'not an active card issuer' } }
      })().catch(() => ({ status: 503, body: { error: 'the chain did not answer' } }))
    },
  }
}

/** The issuer headers the spec asks for: any origin may fetch keys and revocation lists. */
export const WELL_KNOWN_HEADERS = { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cache-control': 'max-age=60' }

/** Serves `wellKnownResponder` on its own port. Put it behind the https host named in `healthCards.issuerBaseUrl`. */
export async function startWellKnownServer(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { issuerBaseUrl: string; crlDir: string; port: number; host?: string; portFallback?: boolean },
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const responder = wellKnownResponder(ctx, params)
  const basePath = responder.basePath
  const server = createServer((req, res) => {
    const answer =
      responder.respond(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x').pathname) ??
      Promise.resolve({ status: 404, body: { error: 'not found' } })
    void answer.then(({ status, body }) => {
      res.writeHead(status, WELL_KNOWN_HEADERS)
      res.end(JSON.stringify(body))
    })
  })
  const host = params.host ?? '127.0.0.1'
  const port = await listenPreferring(server, params.port, host, { fallback: params.portFallback ?? false })
  return {
    url: `http://${host}:${port}${basePath}`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
