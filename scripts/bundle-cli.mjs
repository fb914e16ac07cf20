// Bundles the CLI (dist/cli/main.js and everything it imports) into dist/cli-bundle/, which
// bin/medvault.js runs. Node 20 resolves and links every ESM file on its own, and viem alone is
// ~700 files: a bundled command starts in about half the time (0.9 s -> 0.45 s for `record --help`,
// measured on 2 cores), which every CLI call pays. Commands stay lazy: `splitting` keeps each
// command module's dynamic import a chunk of its own.
//
// Only pure-JS packages are bundled. Packages that read files beside themselves (FHIR definitions,
// PDF fonts), native ones (better-sqlite3), and the IPFS stack stay external: Helia must see
// CIDs made by the same multiformats it uses.
import { rmSync } from 'node:fs'
import { build } from 'esbuild'

// zod goes in with every package that hands it schemas (abitype, hono's and asteasolutions'
// OpenAPI helpers): one copy in the bundle and another outside would not know each other's types.
const BUNDLED = new Set(['viem', 'ox', 'abitype', 'commander', 'jose', 'hpke', 'isows', 'ws', 'zod', 'hono'])
const BUNDLED_SCOPES = new Set(['@noble', '@scure', '@adraffy', '@panva', '@hono', '@asteasolutions'])

const packageName = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/')
const bundled = (name) => BUNDLED.has(name) || BUNDLED_SCOPES.has(name.split('/')[0])

const started = Date.now()
// Chunk names are content hashes: without a clean slate every build would leave the last one's behind.
rmSync('dist/cli-bundle', { recursive: true, force: true })
const result = await build({
  // The attestation pool's worker thread (records/attestationPool.ts) is loaded beside the chunk
  // that starts it: an entry of its own, so it lands at dist/cli-bundle/attestationWorker.js.
  entryPoints: { main: 'dist/cli/main.js', attestationWorker: 'dist/records/attestationWorker.js' },
  outdir: 'dist/cli-bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  metafile: true,
  // Bundled CommonJS (commander) calls require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __medvaultRequire } from 'node:module'; const require = __medvaultRequire(import.meta.url);" },
  plugins: [
    {
      name: 'external-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, ({ path }) =>
          path.startsWith('node:') || !bundled(packageName(path)) ? { external: true } : undefined,
        )
      },
    },
  ],
})
const files = Object.keys(result.metafile.outputs).length
console.log(`CLI bundled into dist/cli-bundle (${files} files) in ${Date.now() - started} ms`)
