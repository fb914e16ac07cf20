import { type Server, createServer } from 'node:http'
import { getAddress, isAddress } from 'viem'
import type { RecordsContext } from '../core/index.js'
import { readCrl } from './revocation.js'
import { medvaultIssuerUrl, registryTrust } from './trust.js'

/**
 * Serves what SMART Health Card verifiers fetch from an issuer, for every active medvault provider:
 * `{base path}/{address}/.well-known/jwks.json` (its keys, read from the on-chain registry) and
 * `{base path}/{address}/.well-known/crl/{kid}.json` (its revocation lists). Read-only, CORS open,
 * as the spec requires. Put it behind the https host named in `healthCards.issuerBaseUrl`.
 */
export async function startWellKnownServer(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { issuerBaseUrl: string; crlDir: string; port: number; host?: string },
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const basePath = new URL(params.issuerBaseUrl).pathname.replace(/\/+$/, '')
  const trust = registryTrust(ctx, params.issuerBaseUrl, params.crlDir)
  const route = new RegExp(
    `^${basePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(0x[0-9a-fA-F]{40})/\\.well-known/(jwks\\.json|crl/([A-Za-z0-9_-]+)\\.json)$`,
  )
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cache-control': 'max-age=60' })
      res.end(JSON.stringify(body))
    }
    const match = req.method === 'GET' ? route.exec(new URL(req.url ?? '/', 'http://x').pathname) : null
    if (!match || !isAddress(match[1]!)) return send(404, { error: 'not found' })
    const provider = getAddress(match[1]!)
    void (async () => {
      if (match[3]) {
        const crl = readCrl(params.crlDir, provider, match[3])
        return crl ? send(200, crl) : send(404, { error: 'no revocation list for this key' })
      }
      const issuer = await trust.resolve(medvaultIssuerUrl(params.issuerBaseUrl, provider))
      return issuer ? send(200, { keys: issuer.keys }) : send(404, { error: 'not an active card issuer' })
    })().catch(() => send(503, { error: 'the chain did not answer' }))
  })
  const host = params.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(params.port, host, resolve)
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : params.port
  return {
    url: `http://${host}:${port}${basePath}`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
