import './promiseWithResolvers.js'
import type { Helia, HeliaInit } from 'helia'

/**
 * Helia without networking, loaded cheaply. helia's `createHeliaLight(init)` is
 * `new Helia({ name, version, ...init })`, but the package's one entry point also imports libp2p,
 * Bitswap and the HTTP gateway client: about 1 s of module loading (measured: 1.2 s against 0.35 s
 * on a quiet 2-core machine) that every `medvault record` call paid for a node that never dials
 * out. So the Helia class is taken from its own module inside the installed package, which the
 * package's `exports` map does not list; if a later helia moves it, the public entry is used (the
 * same node, only slower to load), and `heliaLight.test.ts` says so.
 */
export async function loadHeliaLight(): Promise<{ create: (init: Partial<HeliaInit>) => Helia; fast: boolean }> {
  try {
    const entry = import.meta.resolve('helia')
    const [{ Helia: HeliaClass }, { name, version }] = await Promise.all([
      import(new URL('./helia.js', entry).href),
      import(new URL('./version.js', entry).href),
    ])
    if (typeof HeliaClass === 'function' && typeof name === 'string' && typeof version === 'string') {
      return { create: (init) => new HeliaClass({ name, version, ...init }) as Helia, fast: true }
    }
  } catch {
    // the package's layout changed: fall back to its public entry
  }
  const { createHeliaLight } = await import('helia')
  return { create: (init) => createHeliaLight(init), fast: false }
}
