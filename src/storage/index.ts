export type { BlobStore } from './blobStore.js'
export { createHeliaStore } from './heliaStore.js'
export { createKuboStore } from './kuboStore.js'
export { lazyBlobStore } from './lazyStore.js'

/**
 * Helia (libp2p, bitswap) and the Kubo client load on first use, so a command that never touches
 * IPFS does not pay for loading them.
 */
export const loadHeliaStore = () => import('./heliaStore.js')
export const loadKuboStore = () => import('./kuboStore.js')
export async function loadPeering() {
  const [key, peering] = await Promise.all([import('./peerKey.js'), import('./heliaPeering.js')])
  return { ...key, ...peering }
}
export type { HeliaBlobStore, HeliaNetworkOptions } from './heliaStore.js'
