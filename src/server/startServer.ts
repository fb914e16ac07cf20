import { join } from 'node:path'
import { createAdaptorServer } from '@hono/node-server'
import { type Address, createTestClient, http } from 'viem'
import { EMBEDDED_FUNDING, chainTime, listenPreferring } from '../chain/index.js'
import type { Medvault } from '../home/index.js'
import { InvalidInputError } from '../errors.js'
import { CID } from 'multiformats/cid'
import { type OnChainRecord, type ReadCache, createAttestationPool, createReadCache, verifiedRecords } from '../records/index.js'
import { type Indexer, type IndexStore, createIndexer, openIndexStore } from '../indexer/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { grantStruct } from '../consent/index.js'
import { createApp } from './app.js'
import { searchSummary } from './fhir/search.js'
import { createSiweAuth } from './auth/siwe.js'
import { createSessionTokens, loadSessionSecret } from './auth/sessionToken.js'
import type { RecordIndex, ServerLimits } from './context.js'
import { createKeyring } from './keyring.js'
import { defaultWebRoot } from './staticWeb.js'

export type StartServerParameters = {
  /** 0 for any free port. */
  port: number
  /** When `port` is taken, take any free port instead of failing (what `medvault start` does with its default ports). */
  portFallback?: boolean
  host?: string
  /** Unlocks the custodial accounts (those in the home that open with it); none without it. */
  passphrase?: string | undefined
  limits?: Partial<ServerLimits>
  sessionMinutes?: number
  /** How stale the index may be when a list is served, in ms: it syncs first when older. */
  indexMaxAgeMs?: number
  logError?: (line: string) => void
  /** The built web portal to serve at `/`; by default this package's `dist/web` when built, `false` for none. */
  webRoot?: string | false
  /**
   * The https URL a TLS-terminating proxy serves this server at (the server itself speaks plain
   * HTTP): links and the sign-in domain use it, and responses then carry HSTS. Without it, no HSTS
   * (it is meaningless, and ignored by browsers, over plain HTTP).
   */
  publicUrl?: string
}

export type MedvaultServer = {
  url: string
  port: number
  index: IndexStore
  indexer: Indexer
  close(): Promise<void>
}

export const DEFAULT_LIMITS: ServerLimits = { bodyBytes: 16 * 1024 * 1024, requestsPerMinute: 1200 }

/**
 * The index as the server reads it: synced from the chain first whenever it is older than
 * `maxAgeMs`, or behind the chain's head block, with concurrent requests sharing one sync.
 */
function freshIndex(
  indexer: Indexer,
  store: IndexStore,
  maxAgeMs: number,
  mv: Pick<Medvault, 'publicClient' | 'deployment'>,
  cache: ReadCache,
): RecordIndex {
  let syncedAt = 0
  let syncing: Promise<unknown> | undefined
  const fresh = async () => {
    if (Date.now() - syncedAt <= maxAgeMs && syncedAt > 0) {
      // Recent, but a block since (an amendment, an erasure) must not be missed: compare with the head.
      const [head, cursor] = await Promise.all([cache.head(), store.cursor()])
      if (cursor && cursor.block >= head.number) return
    }
    if (!syncing) {
      const started = Date.now()
      // Only a sync that succeeded counts: after a failed one (the chain down) the next request
      // tries again and fails as clearly, instead of serving the old index as if it were current.
      syncing = indexer
        .sync()
        .then(() => {
          syncedAt = started
        })
        .finally(() => {
          syncing = undefined
        })
    }
    await syncing
  }
  return {
    async recordsOf(patient: Address) {
      await fresh()
      return (await store.recordsOf(patient, { includeSuperseded: true })).map(
        (r): OnChainRecord => ({
          tokenId: r.tokenId,
          owner: r.patient,
          commitment: r.commitment,
          cid: CID.parse(r.cid),
          issuer: r.issuer,
          issuedAt: r.issuedAt,
          tag: r.tag,
          supersedes: r.supersedes ?? 0n,
          supersededBy: r.supersededBy ?? 0n,
        }),
      )
    },
    // The index names the candidates; the chain decides, at its own time (the block's timestamp, as the
    // contracts do), which grants are active: a grant revoked a moment ago, or expired on chain time
    // while the wall clock says otherwise, lists no patient.
    async patientsSharingWith(grantee: Address) {
      await fresh()
      const chainNow = await chainTime(mv.publicClient)
      const candidates = await store.grantsTo(grantee, { activeAt: chainNow })
      const active = await Promise.all(
        candidates.map((g) =>
          mv.publicClient.readContract({
            address: mv.deployment.consent,
            abi: consentRegistryAbi,
            functionName: 'isActive',
            args: [g.grantId, grantStruct(g)],
          }),
        ),
      )
      const latest = new Map<Address, Date>()
      candidates.forEach((g, i) => {
        if (!active[i]) return
        const until = latest.get(g.patient)
        if (!until || g.expiresAt > until) latest.set(g.patient, g.expiresAt)
      })
      return [...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([patient, until]) => ({ patient, until }))
    },
  }
}

/** Runs the HTTP server for a medvault home, with its index kept in step with the chain. */
export async function startServer(mv: Medvault, params: StartServerParameters): Promise<MedvaultServer> {
  const host = params.host ?? '127.0.0.1'
  if (params.publicUrl !== undefined && !/^https:\/\/[^/]+/.test(params.publicUrl)) {
    throw new InvalidInputError(`The public URL must be an https:// URL, not "${params.publicUrl}".`, {
      hint: 'It is where a TLS-terminating proxy serves this server; leave it out when there is none.',
    })
  }
  const store = await openIndexStore(mv.paths, mv.config)
  const indexer = createIndexer({ publicClient: mv.publicClient, deployment: mv.deployment }, store, {
    ...(params.logError ? { onError: (e: unknown) => params.logError!(`index sync failed, will retry: ${String(e)}`) } : {}),
  })
  await indexer.sync()
  indexer.start()

  // Bound before the app is made, since the app needs the port it got (sign-in domains and
  // origins): binding is the one check of a port that cannot race. The app is made in the same
  // turn of the event loop as the bind completes, so no request finds it missing; the 503 is a guard.
  let app: ReturnType<typeof createApp> | undefined
  const server = createAdaptorServer({
    fetch: (request, env) =>
      app ? app.fetch(request, env) : Response.json({ error: 'the server is starting, try again' }, { status: 503 }),
  })
  let port: number
  try {
    port = await listenPreferring(server, params.port, host, { fallback: params.portFallback ?? false })
  } catch (error) {
    await indexer.stop()
    await store.close()
    throw error
  }
  const localUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`
  const baseUrl = params.publicUrl?.replace(/\/$/, '') ?? localUrl
  const webRoot = params.webRoot === false ? undefined : (params.webRoot ?? defaultWebRoot())
  const tokens = createSessionTokens(loadSessionSecret(join(mv.paths.dir, 'server', 'session.key')), (params.sessionMinutes ?? 15) * 60)
  const readCache = createReadCache({ publicClient: mv.publicClient, records: mv.deployment.records, summarize: searchSummary })
  const attestations = createAttestationPool()
  app = createApp({
    ctx: { ...mv, verified: verifiedRecords(), readCache, attestations },
    auditLog: mv.auditLog,
    index: freshIndex(indexer, store, params.indexMaxAgeMs ?? 1000, mv, readCache),
    keyring: createKeyring(mv.keystore, params.passphrase),
    siwe: createSiweAuth({
      publicClient: mv.publicClient,
      chainId: mv.deployment.chainId,
      domains: [...new Set([new URL(baseUrl).host, new URL(localUrl).host, `localhost:${port}`])],
      origins: [...new Set([new URL(baseUrl).origin, new URL(localUrl).origin, `http://localhost:${port}`])],
      nonces: store,
      tokens,
    }),
    tokens,
    limits: { ...DEFAULT_LIMITS, ...params.limits },
    baseUrl,
    importsDir: join(mv.paths.dir, 'imports'),
    emergencyReasonsDir: mv.paths.emergencyReasons,
    operationsDir: mv.paths.operations,
    syncIndex: async () => void (await indexer.sync()),
    healthCards: { issuerBaseUrl: mv.config.healthCards.issuerBaseUrl, crlDir: mv.paths.healthCardCrls },
    ...(webRoot ? { webRoot } : {}),
    ...(mv.embedded
      ? {
          fundNewAccount: async (address: Address) => {
            const test = createTestClient({ mode: 'anvil', chain: mv.chain, transport: http(mv.rpcUrl) })
            await test.setBalance({ address, value: EMBEDDED_FUNDING })
          },
        }
      : {}),
    ...(params.logError ? { logError: params.logError } : {}),
  })
  const pruning = setInterval(() => void store.pruneNonces(new Date()).catch(() => undefined), 60_000)

  return {
    url: localUrl,
    port,
    index: store,
    indexer,
    async close() {
      clearInterval(pruning)
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await indexer.stop()
      await store.close()
      await attestations.close()
    },
  }
}
