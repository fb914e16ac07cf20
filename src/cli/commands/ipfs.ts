import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { Command } from 'commander'
import { CID } from 'multiformats/cid'
import { HomeError, InvalidInputError } from '../../errors.js'
import { type Config, homePaths, loadConfig, resolveHome, saveConfig } from '../../home/index.js'
import type { HeliaBlobStore, HeliaNetworkOptions } from '../../storage/index.js'
import { loadHeliaStore, loadPeering } from '../../storage/index.js'
import { type GlobalOptions, collectList, emit } from '../output.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

type RepoOptions = { repo?: string; listen?: string[]; peer?: string[]; timeout?: string }

/**
 * The IPFS repository a command works on, and its network: `--repo DIR` for a standalone node
 * (a second node for a home, a test), else the home's repository and its `helia-peer` storage
 * settings. `--listen` and `--peer` replace the configured ones.
 */
function repoOf(o: GlobalOptions, opts: RepoOptions, serving: boolean): { dir: string; network: HeliaNetworkOptions; home?: string } {
  const timeoutMs = opts.timeout === undefined ? undefined : Number(opts.timeout) * 1000
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new InvalidInputError(`--timeout must be a positive number of seconds, not "${opts.timeout}".`)
  }
  let dir: string
  let configured: Partial<HeliaNetworkOptions> = {}
  let home: string | undefined
  if (opts.repo) {
    dir = opts.repo
  } else {
    const paths = homePaths(resolveHome(o.home))
    const config = loadConfig(paths)
    if (!config)
      throw new HomeError(`No medvault home at ${paths.dir}.`, {
        hint: 'Run `medvault init`, or pass --repo DIR for a standalone IPFS node.',
      })
    if (config.storage.kind === 'kubo') {
      throw new InvalidInputError('This home stores records on a Kubo node; manage that node with its own tools.', {
        hint: 'Pass --repo DIR to run a standalone Helia node instead.',
      })
    }
    dir = paths.ipfs
    home = paths.dir
    if (config.storage.kind === 'helia-peer') {
      configured = { listen: config.storage.listen, peers: config.storage.peers, timeoutMs: config.storage.timeoutSeconds * 1000 }
    }
  }
  const network: HeliaNetworkOptions = {
    listen: serving ? (opts.listen ?? configured.listen ?? ['/ip4/127.0.0.1/tcp/0']) : [],
    peers: opts.peer ?? configured.peers ?? [],
    ...((timeoutMs ?? configured.timeoutMs) !== undefined ? { timeoutMs: (timeoutMs ?? configured.timeoutMs)! } : {}),
  }
  return { dir, network, ...(home ? { home } : {}) }
}

async function openRepo(dir: string, network: HeliaNetworkOptions): Promise<HeliaBlobStore> {
  const { createHeliaStore } = await loadHeliaStore()
  return createHeliaStore(dir, { network })
}

async function withRepo<T>(dir: string, network: HeliaNetworkOptions, fn: (store: HeliaBlobStore) => Promise<T>): Promise<T> {
  const store = await openRepo(dir, network)
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

function parseCid(value: string): CID {
  try {
    return CID.parse(value)
  } catch {
    throw new InvalidInputError(`"${value}" is not a CID.`, { hint: 'Give the CID a record shows, e.g. bafybei…' })
  }
}

export function ipfsCommands(program: Command, run: Run) {
  const ipfs = program
    .command('ipfs')
    .description("The home's IPFS node: serve it to peers, show its peer id, fetch, pin and collect garbage")

  const repoOptions = (cmd: Command, listen: boolean) => {
    cmd.option('--repo <dir>', 'a standalone IPFS repository instead of the home (created if missing)')
    if (listen) cmd.option('--listen <multiaddr>', 'listen here (repeatable; default: the config, else a free loopback port)', collectList)
    return cmd
      .option('--peer <multiaddr>', 'fetch from this peer, /ip4/…/tcp/…/p2p/<peer id> (repeatable; default: the config)', collectList)
      .option('--timeout <seconds>', 'fail a fetch that receives no block for this long (default: the config, else 30)')
  }

  ipfs
    .command('id')
    .description("This node's peer id and the addresses peers should dial (creates the peer key if missing)")
    .option('--repo <dir>', 'a standalone IPFS repository instead of the home')
    .action((opts: RepoOptions, cmd: Command) =>
      run(async (o) => {
        const { dir, network } = repoOf(o, opts, true)
        const [{ loadPeerKey, peerKeyFile }, { peerIdFromPrivateKey }] = await Promise.all([loadPeering(), import('@libp2p/peer-id')])
        const peerId = peerIdFromPrivateKey(await loadPeerKey(peerKeyFile(dir))).toString()
        const addresses = network.listen.filter((a) => !a.endsWith('/tcp/0')).map((a) => `${a}/p2p/${peerId}`)
        emit(o, { repo: dir, peerId, addresses }, () => [
          `Peer id ${peerId} (repository ${dir})`,
          ...(addresses.length > 0
            ? ['Peers reach it, while `medvault ipfs serve` runs, at:', ...addresses.map((a) => `  ${a}`)]
            : ['It listens on a free port when served; `medvault ipfs serve` prints the address.']),
        ])
      }, cmd),
    )

  repoOptions(
    ipfs.command('serve').description('Run the IPFS node in the foreground, serving its blocks to peers over libp2p, until Ctrl-C'),
    true,
  ).action((opts: RepoOptions, cmd: Command) =>
    run(async (o) => {
      const { dir, network, home } = repoOf(o, opts, true)
      const store = await openRepo(dir, network)
      try {
        // Reaching the peers now warms the connections; a peer that is down is dialled again on the next read.
        const { reached, failed } = await store.connect()
        emit(
          o,
          { repo: dir, ...(home ? { home } : {}), peerId: store.peerId, multiaddrs: store.multiaddrs(), peers: { reached, failed } },
          () => [
            `IPFS node ${store.peerId} is serving ${dir}.`,
            ...store.multiaddrs().map((a) => `  listening  ${a}`),
            ...reached.map((p) => `  peer       ${p} (connected)`),
            ...failed.map((p) => `  peer       ${p.peer} (not reached: ${p.error})`),
            'Press Ctrl-C to stop.',
          ],
        )
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve)
          process.once('SIGTERM', resolve)
        })
      } finally {
        await store.close()
      }
    }, cmd),
  )

  repoOptions(ipfs.command('add').description('Store and pin a file (already encrypted: records are added by `record add`)'), false)
    .argument('<file>')
    .action((file: string, opts: RepoOptions, cmd: Command) =>
      run(async (o) => {
        const { dir, network } = repoOf(o, opts, false)
        const cid = await withRepo(dir, { ...network, peers: [] }, (store) => store.add(createReadStream(file)))
        emit(o, { cid: cid.toString(), pinned: true }, () => [`Added and pinned ${cid.toString()}.`])
      }, cmd),
    )

  repoOptions(
    ipfs.command('cat').description('Fetch content by CID, from this repository or its peers; writes it to --out (or stdout)'),
    false,
  )
    .argument('<cid>')
    .option('--out <file>', 'write the bytes here')
    .option('--pin', 'pin what was fetched, so this node keeps a copy')
    .action((value: string, opts: RepoOptions & { out?: string; pin?: boolean }, cmd: Command) =>
      run(async (o) => {
        const cid = parseCid(value)
        const { dir, network } = repoOf(o, opts, false)
        if (o.json && !opts.out) throw new InvalidInputError('With --json, give --out FILE for the bytes.')
        const result = await withRepo(dir, network, async (store) => {
          const heldBefore = await store.has(cid)
          const started = performance.now()
          const hash = createHash('sha256')
          const sink = opts.out ? createWriteStream(opts.out, { mode: 0o600 }) : process.stdout
          let bytes = 0
          for await (const part of store.cat(cid)) {
            bytes += part.length
            hash.update(part)
            if (!sink.write(part)) await once(sink, 'drain')
          }
          if (opts.out)
            await new Promise<void>((resolve, reject) =>
              (sink as NodeJS.WritableStream).end((e?: Error | null) => (e ? reject(e) : resolve())),
            )
          const ms = performance.now() - started
          if (opts.pin) await store.pin(cid)
          return {
            cid: cid.toString(),
            bytes,
            sha256: hash.digest('hex'),
            fetched: !heldBefore,
            pinned: opts.pin === true,
            ms: Math.round(ms),
          }
        })
        if (opts.out || o.json) {
          emit(o, result, () => [
            `${result.fetched ? 'Fetched' : 'Read'} ${result.bytes} bytes of ${result.cid} in ${result.ms} ms into ${opts.out}${result.pinned ? ', pinned' : ''}.`,
          ])
        }
      }, cmd),
    )

  ipfs
    .command('gc')
    .description('Delete the blocks no pin holds (copies fetched from peers); pinned records stay')
    .option('--repo <dir>', 'a standalone IPFS repository instead of the home')
    .action((opts: RepoOptions, cmd: Command) =>
      run(async (o) => {
        const { dir } = repoOf(o, opts, false)
        const removed = await withRepo(dir, { listen: [], peers: [] }, (store) => store.gc())
        emit(o, { repo: dir, removed }, () => [`Removed ${removed} unpinned blocks from ${dir}.`])
      }, cmd),
    )

  const peer = ipfs.command('peer').description("The peers the home's IPFS node fetches from")
  peer
    .command('add')
    .description('Add a peer (/ip4/…/tcp/…/p2p/<peer id>, as `medvault ipfs id` prints it on the peer)')
    .argument('<multiaddr>')
    .action((address: string, _opts: unknown, cmd: Command) =>
      run(async (o) => {
        const paths = homePaths(resolveHome(o.home))
        const config = peeringConfig(paths)
        if (!/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(address)) {
          throw new InvalidInputError(`"${address}" does not end in /p2p/<peer id>.`, {
            hint: 'Copy the full address `medvault ipfs id` prints on the peer.',
          })
        }
        const peers = [...new Set([...config.storage.peers, address])]
        saveConfig(paths, { ...config, storage: { ...config.storage, peers } })
        emit(o, { peers }, () => [`The IPFS node of ${paths.dir} fetches from ${peers.length} peer(s).`])
      }, cmd),
    )
  peer
    .command('remove')
    .description('Stop fetching from a peer')
    .argument('<multiaddr>')
    .action((address: string, _opts: unknown, cmd: Command) =>
      run(async (o) => {
        const paths = homePaths(resolveHome(o.home))
        const config = peeringConfig(paths)
        const peers = config.storage.peers.filter((p) => p !== address)
        saveConfig(paths, { ...config, storage: { ...config.storage, peers } })
        emit(o, { peers }, () => [`The IPFS node of ${paths.dir} fetches from ${peers.length} peer(s).`])
      }, cmd),
    )
}

function peeringConfig(paths: ReturnType<typeof homePaths>): Config & { storage: Extract<Config['storage'], { kind: 'helia-peer' }> } {
  const config = loadConfig(paths)
  if (config?.storage.kind !== 'helia-peer') {
    throw new InvalidInputError(`The home ${paths.dir} does not use peered IPFS storage.`, {
      hint: 'Create it with `medvault init --ipfs-listen /ip4/127.0.0.1/tcp/4101`, or set storage.kind to "helia-peer" in config.json.',
    })
  }
  return config as Config & { storage: Extract<Config['storage'], { kind: 'helia-peer' }> }
}
