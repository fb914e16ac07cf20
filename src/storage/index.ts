import type { BlobStore } from './blobStore.js'
import { lazyBlobStore } from './lazyStore.js'

export type { BlobStore } from './blobStore.js'
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

/**
 * The stores' constructors, loading their modules on the call: a static re-export here would load
 * Helia and the Kubo client (~500 module files, about a second of CPU) into every CLI command and
 * every module that imports this folder, whatever it does.
 */
export async function createHeliaStore(...args: Parameters<typeof import('./heliaStore.js').createHeliaStore>) {
  return (await loadHeliaStore()).createHeliaStore(...args)
}
export function createKuboStore(url: string): BlobStore {
  return lazyBlobStore(async () => (await loadKuboStore()).createKuboStore(url))
}
