import { mkdirSync } from 'node:fs'
import lockfile from 'proper-lockfile'
import { privateKeyToAccount } from 'viem/accounts'
import {
  type EmbeddedChain,
  startAnvil,
  type ChainClients,
  createChainClients,
  type Deployment,
  deployContracts,
  deployArchiveAnchor,
  deployResearchMarket,
  EMBEDDED_DEV_KEY,
  EMBEDDED_FUNDING,
  pollingIntervalFor,
} from '../chain/index.js'
import { openKeystore, type Keystore } from '../accounts/index.js'
import { BaseError, ContractFunctionRevertedError, ContractFunctionZeroDataError, createTestClient, http, zeroAddress } from 'viem'
import { consentRegistryAbi, providerRegistryAbi } from '../contracts/index.js'
import { type AnchorPendingReturnType, type AuditLog, anchorPending, anchorStatus, openAuditLog, shouldAnchor } from '../audit/index.js'
import { createKeyReleaseService, createFileTagTableStore, openKeySlipStore } from '../consent/index.js'
import { ChainUnavailableError, HomeError } from '../errors.js'
import type { AccessRecorder, RecordsContext } from '../records/index.js'
import type { BlobStore } from '../storage/index.js'
import { loadHeliaStore, loadKuboStore, lazyBlobStore } from '../storage/index.js'
import { type Config, DEFAULT_CONFIG, type HomePaths, homePaths, loadConfig, saveConfig } from './config.js'
import { type NodeKey, loadNodeKey } from './nodeKey.js'
import { readRunInfo } from './runFile.js'

export type Medvault = RecordsContext &
  ChainClients & {
    paths: HomePaths
    config: Config
    keystore: Keystore
    rpcUrl: string
    /** This node's own keys (audit signing, emergency escrow). */
    node: NodeKey
    /** The hash-chained, signed access log of this node. */
    auditLog: AuditLog
    /** Anchors the access log on chain: when the config's batch size or interval says so, or now with `force`. */
    anchorAudit(options?: { force?: boolean }): Promise<AnchorPendingReturnType | undefined>
    /** True when this process started the embedded chain (no `medvault start` was running). */
    ownsChain: boolean
    embedded: boolean
    close(): Promise<void>
  }

export type OpenMedvaultParameters = {
  home: string
  /** Seconds between chain state dumps, for a long-running `medvault start`. */
  stateIntervalSeconds?: number
  /** Port for the embedded chain (default: a free port; `medvault start` uses 8545 when free). */
  port?: number
  /** When `port` is taken by the time the chain binds it, use a free port instead of failing. */
  portFallback?: boolean
}

/** Creates the home and its config if missing. Returns the config. */
export function initHome(paths: HomePaths, config: Config = DEFAULT_CONFIG): Config {
  const existing = loadConfig(paths)
  if (existing) return existing
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 })
  saveConfig(paths, config)
  return config
}

/**
 * Opens a medvault home: the config, the keystore, the chain and the blob store. On the embedded
 * default it uses the chain of a running `medvault start`, or starts the chain itself under an
 * exclusive lock (so two commands never run two chains on one state file) and deploys the
 * contracts on first use.
 */
export async function openMedvault(params: OpenMedvaultParameters): Promise<Medvault> {
  const paths = homePaths(params.home)
  let config = initHome(paths)
  const keystore = openKeystore(paths.accounts)
  const cleanups: (() => Promise<void>)[] = []
  // Undo in reverse order of set-up; a second close() finds nothing left to do.
  const close = async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined)
  }

  try {
    let rpcUrl: string
    let ownsChain = false
    const embedded = config.chain.kind === 'embedded'
    if (config.chain.kind === 'embedded') {
      const running = readRunInfo(paths)
      // A live `medvault start` may answer slowly on a busy machine: wait for it rather than start a second chain.
      if (running && (await answersWithin(running.rpcUrl, chainWaitMs()))) {
        rpcUrl = running.rpcUrl
      } else if (running) {
        // Its process is alive and holds the chain: starting a second chain on the same state would be wrong.
        throw new ChainUnavailableError(
          `medvault start (pid ${running.pid}) is running, but its chain at ${running.rpcUrl} does not answer.`,
          {
            hint: 'It may be overloaded or restarting: try again in a moment. Nothing was changed. If it stays down, stop `medvault start` and start it again.',
          },
        )
      } else {
        mkdirSync(paths.chainDir, { recursive: true })
        const release = await lockfile
          .lock(paths.chainDir, { retries: { retries: 100, minTimeout: 100, maxTimeout: 500 }, stale: 10_000 })
          .catch((cause: unknown) => {
            throw new HomeError("Another medvault command is using this home's chain.", {
              cause,
              hint: 'Wait for it to finish, or run `medvault start` so commands can share the chain.',
            })
          })
        cleanups.push(release)
        // A `medvault start` may have come up while we waited for the lock.
        const raced = readRunInfo(paths)
        if (raced && (await answersWithin(raced.rpcUrl, chainWaitMs()))) {
          cleanups.pop()
          await release()
          rpcUrl = raced.rpcUrl
        } else {
          const chain: EmbeddedChain = await startAnvil({
            statePath: paths.chainState,
            chainId: config.chain.chainId,
            ...(params.port ? { port: params.port } : {}),
            ...(params.portFallback ? { portFallback: true } : {}),
            ...(params.stateIntervalSeconds ? { stateIntervalSeconds: params.stateIntervalSeconds } : {}),
          })
          cleanups.push(() => chain.stop())
          rpcUrl = chain.rpcUrl
          ownsChain = true
        }
      }
    } else {
      rpcUrl = config.chain.rpcUrl
    }

    const clients = createChainClients(rpcUrl, config.chain.chainId, embedded ? {} : { pollingInterval: pollingIntervalFor(rpcUrl) })
    const deployment = await ensureDeployment(paths, config, clients, embedded)
    config = { ...config, deployment }

    const store = lazyBlobStore(() => openStore(paths, config))
    cleanups.push(() => store.close())

    const node = await loadNodeKey(paths.nodeKey)
    const auditLog = await openAuditLog({ dir: paths.audit, signer: node.account })
    const audit = auditRecorder(auditLog)
    const keySlips = await openKeySlipStore(paths.keySlips, { legacyDir: paths.legacyKeySlips })
    cleanups.push(async () => keySlips.close())
    const keyRelease = createKeyReleaseService(
      { publicClient: clients.publicClient, deployment },
      { node: { address: node.account.address, releaseSeed: node.releaseSeed, releasePublicKey: node.releasePublicKey }, keySlips, audit },
    )
    const mv: Medvault = {
      ...clients,
      paths,
      config,
      keystore,
      rpcUrl,
      ownsChain,
      embedded,
      deployment,
      store,
      keySlips,
      tagTables: createFileTagTableStore(paths.tagTables),
      keyRelease,
      audit,
      auditLog,
      node,
      anchorAudit: (options) => anchorAudit(mv, options?.force ?? false),
      close,
    }
    // Runs first on close, while the chain is still up: anchor the access log if the policy says it is time.
    cleanups.push(async () => {
      await mv.anchorAudit()
    })
    return mv
  } catch (error) {
    await close()
    throw error
  }
}

async function openStore(paths: HomePaths, config: Config): Promise<BlobStore> {
  if (config.storage.kind === 'embedded') {
    const { createHeliaStore } = await loadHeliaStore()
    return createHeliaStore(paths.ipfs)
  }
  if (config.storage.kind === 'helia-peer') {
    // Commands dial out only: `medvault ipfs serve` owns the listening port, so both can run on one home.
    const { createHeliaStore } = await loadHeliaStore()
    return createHeliaStore(paths.ipfs, {
      network: { listen: [], peers: config.storage.peers, timeoutMs: config.storage.timeoutSeconds * 1000 },
    })
  }
  const { createKuboStore } = await loadKuboStore()
  return createKuboStore(config.storage.url)
}

async function ensureDeployment(paths: HomePaths, config: Config, clients: ChainClients, embedded: boolean): Promise<Deployment> {
  if (config.deployment) {
    const [code, tagged] = await Promise.all([
      clients.publicClient.getCode({ address: config.deployment.records }),
      hasCurrentContracts(clients, config.deployment),
    ])
    if (!code || code === '0x') {
      throw new HomeError('The medvault contracts named in the config are not on this chain.', {
        hint: embedded
          ? `The embedded chain state (${paths.chainState}) was lost or replaced. Restore it from a backup; deleting config.json starts a new, empty chain.`
          : 'Check the RPC URL and chain id, or run `medvault deploy`.',
      })
    }
    if (!tagged) {
      // Records of the oldest contracts carry their category and sensitivity in clear on chain, and
      // their grants name categories; those of the next keep a record's content fields in storage,
      // where this medvault reads them from the mint's event. Nothing here can read or write either,
      // and no migration can take clear categories off a chain. So the home is refused rather than half-used.
      throw new HomeError(
        'This home was deployed by an older medvault whose contracts this medvault cannot use (they keep record categories in clear on chain, or records in an older layout).',
        {
          hint: embedded
            ? `Make a new home (\`medvault init --home NEW_DIR\`, or move ${paths.dir} away) and issue the records again there; back up what you need from this one with the older medvault first.`
            : 'Deploy the current contracts (`medvault deploy --as ACCOUNT`) into a new home (`medvault init --home NEW_DIR --rpc-url URL --chain-id N`), and issue the records again there.',
        },
      )
    }
    if (embedded && (!config.deployment.research || !config.deployment.archive)) {
      // A home from before the research market or archive anchoring: the embedded chain is ours, so add what it lacks.
      const wallet = clients.walletFor(privateKeyToAccount(EMBEDDED_DEV_KEY))
      const deployment = {
        ...config.deployment,
        research: config.deployment.research ?? (await deployResearchMarket(wallet, clients.publicClient, config.deployment)),
        archive: config.deployment.archive ?? (await deployArchiveAnchor(wallet, clients.publicClient, config.deployment.registry)),
      }
      saveConfig(paths, { ...config, deployment })
      return deployment
    }
    return config.deployment
  }
  if (!embedded) {
    throw new HomeError('No medvault contracts are configured for this chain.', {
      hint: 'Run `medvault deploy --as ACCOUNT` with a funded account.',
    })
  }
  const deployer = privateKeyToAccount(EMBEDDED_DEV_KEY)
  const deployment = await deployContracts(clients.walletFor(deployer), clients.publicClient)
  saveConfig(paths, { ...config, deployment })
  return deployment
}

/**
 * Whether the deployment is of the contracts with blinded category tags (issue 22): their
 * ConsentRegistry answers `isOpenTag`; an older one has no such function and reverts. One call,
 * made beside the code check, so opening a home costs no extra round trip.
 */
/** Whether the deployment is of this medvault's contracts: blinded categories (ConsentRegistry.isOpenTag) and one-slot records (ProviderRegistry.activeIdOf). */
async function hasCurrentContracts(clients: ChainClients, deployment: Deployment): Promise<boolean> {
  try {
    await Promise.all([
      clients.publicClient.readContract({
        address: deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'isOpenTag',
        args: [zeroAddress, '0x0000000000000001'],
      }),
      clients.publicClient.readContract({
        address: deployment.registry,
        abi: providerRegistryAbi,
        functionName: 'activeIdOf',
        args: [zeroAddress],
      }),
    ])
    return true
  } catch (error) {
    // A revert says "old contracts", no code at all "no contracts" (the code check reports that
    // first); anything else, such as an unreachable chain, is thrown as it is.
    const answered = (e: unknown) => e instanceof ContractFunctionRevertedError || e instanceof ContractFunctionZeroDataError
    if (error instanceof BaseError && error.walk(answered)) return false
    throw error
  }
}

/** How long a command waits for a running `medvault start`'s chain to answer: `MEDVAULT_CHAIN_WAIT_MS`, default 20 s (a busy machine). */
function chainWaitMs(): number {
  const ms = Number(process.env.MEDVAULT_CHAIN_WAIT_MS)
  return Number.isFinite(ms) && ms >= 0 ? ms : 20_000
}

/**
 * Whether the chain at `rpcUrl` answers, trying again for up to `ms` with exponential backoff and
 * full jitter (100 ms doubling to 2 s), so many commands waiting on one slow chain do not knock in step.
 */
async function answersWithin(rpcUrl: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  for (let attempt = 0; !(await answers(rpcUrl)); attempt++) {
    const left = deadline - Date.now()
    if (left <= 0) return false
    const pause = Math.random() * Math.min(2000, 100 * 2 ** attempt)
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)))
  }
  return true
}

async function answers(rpcUrl: string): Promise<boolean> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(2000),
    })
    return res.ok
  } catch {
    return false
  }
}

/** Appends every access attempt to the node's audit log: accounts and token ids, never content. */
function auditRecorder(log: AuditLog): AccessRecorder {
  return {
    async record(attempt) {
      await log.append({
        actor: attempt.actor,
        action: attempt.action,
        tokenId: attempt.tokenId,
        outcome: attempt.outcome,
        ...(attempt.patient ? { patient: attempt.patient } : {}),
        ...(attempt.reason ? { reason: attempt.reason } : {}),
        ...(attempt.purpose ? { purpose: attempt.purpose } : {}),
      })
    },
  }
}

async function anchorAudit(mv: Medvault, force: boolean): Promise<AnchorPendingReturnType | undefined> {
  const status = await anchorStatus(mv, mv.auditLog)
  const due = shouldAnchor(
    { pending: status.pending, ...(status.oldestPendingAt ? { oldestPendingAt: status.oldestPendingAt } : {}) },
    mv.config.audit,
  )
  if (!due && !force) return undefined
  // The node pays for anchoring; on the embedded chain it is funded like any account, the first time it needs to be.
  if (mv.embedded && (await mv.publicClient.getBalance({ address: mv.node.account.address })) === 0n) {
    await createTestClient({ mode: 'anvil', chain: mv.chain, transport: http(mv.rpcUrl) }).setBalance({
      address: mv.node.account.address,
      value: EMBEDDED_FUNDING,
    })
  }
  return anchorPending(mv, mv.auditLog, { maxBatch: Math.max(mv.config.audit.batchSize, 1024) })
}
