import './promiseWithResolvers.js'
import { join } from 'node:path'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Helia } from 'helia'
import { HomeError } from '../errors.js'
import type { HeliaNetworkOptions } from './heliaStore.js'
import { loadPeerKey } from './peerKey.js'

/** The file in an IPFS repository that holds the node's libp2p key. */
export const peerKeyFile = (dir: string) => join(dir, 'peer-key.json')

/**
 * Gives a Helia node a libp2p network that reaches only the configured peers: TCP with Noise and
 * Yamux, identify (so Bitswap learns which peers speak it) and Bitswap. No bootstrap list, DHT,
 * mDNS, relay, AutoNAT or UPnP, so nothing dials anything the config does not name.
 */
export async function withPeering(light: Helia, dir: string, network: HeliaNetworkOptions) {
  const listen = network.listen.map((a) => parseAddress(a, 'listen'))
  const peers = network.peers.map((a) => parseAddress(a, 'peers'))
  for (const [i, peer] of peers.entries()) {
    if (!peer.getComponents().some((c) => c.name === 'p2p')) {
      throw new HomeError(`The IPFS peer address ${network.peers[i]} does not end in /p2p/<peer id>.`, {
        hint: 'Take the full address `medvault ipfs id` prints on the peer; the peer id is how this node knows it reached the right one.',
      })
    }
  }
  const helia = withBitswap(
    withLibp2pLight(light, {
      // The repository's identity belongs to the node that listens (`medvault ipfs serve`). A command that
      // only dials out takes a throwaway one, so it never shows up as a second connection of that peer.
      privateKey: listen.length > 0 ? await loadPeerKey(peerKeyFile(dir)) : await generateKeyPair('Ed25519'),
      addresses: { listen: listen.map(String) },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
      peerDiscovery: [],
    }),
    // Bitswap by default will not send a peer the same block twice within 5 s; a peer that collects its
    // cached copy and reads the record again at once would then wait out its timeout. Peers here are few
    // and named, so a duplicate block costs less than a stalled read.
    { doNotResendBlockWindow: 0 },
  )
  const dialTimeoutMs = network.dialTimeoutMs ?? 5_000

  return {
    helia,
    peerId: () => (helia.status === 'started' ? helia.libp2p.peerId.toString() : undefined),
    multiaddrs: () => helia.libp2p.getMultiaddrs().map(String),
    /** Dials every configured peer at once; an open connection counts as reached. */
    async connect(signal: AbortSignal | undefined) {
      const results = await Promise.allSettled(
        peers.map((peer) =>
          helia.libp2p.dial(peer, {
            signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(dialTimeoutMs)]) : AbortSignal.timeout(dialTimeoutMs),
          }),
        ),
      )
      signal?.throwIfAborted()
      const reached: string[] = []
      const failed: { peer: string; error: string }[] = []
      for (const [i, result] of results.entries()) {
        const peer = network.peers[i]!
        if (result.status === 'fulfilled') reached.push(peer)
        else failed.push({ peer, error: describe(result.reason) })
      }
      return { reached, failed }
    },
  }
}

function parseAddress(address: string, field: string): Multiaddr {
  try {
    return multiaddr(address)
  } catch (cause) {
    throw new HomeError(`"${address}" in storage.${field} is not a multiaddr.`, {
      cause,
      hint: 'Write it like /ip4/127.0.0.1/tcp/4101 (and end a peer with /p2p/<peer id>).',
    })
  }
}

/** A dial failure in a few words: libp2p wraps the socket error (ECONNREFUSED, a timeout) in an AggregateError. */
function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0])
  if (error instanceof Error) return error.name === 'AbortError' || error.name === 'TimeoutError' ? 'no answer in time' : error.message
  return String(error)
}
