// Preloaded (`node --import`) into each contract test process by scripts/coverage/run.ts.
import { existsSync } from 'node:fs'
import { register } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const dir = process.env.MEDVAULT_COVERAGE_DIR
if (!dir) throw new Error('MEDVAULT_COVERAGE_DIR is not set: run the contract coverage with `npm run coverage`')
// The project root this file was loaded from: the precompiled mirror (.test-build/run-N/, where
// run.ts starts the tests) or the project itself (tests run through tsx). Each module the hooks
// swap is its compiled .js where there is one beside the .ts, as the compiled tests import.
const root = join(import.meta.dirname, '..', '..')
const moduleUrl = (path) => pathToFileURL(existsSync(`${path}.js`) ? `${path}.js` : `${path}.ts`).href
register('./hooks.mjs', import.meta.url, {
  data: {
    artifactsUrl: pathToFileURL(join(dir, 'artifacts', 'index.js')).href,
    contractsIndexUrl: moduleUrl(join(root, 'src', 'contracts', 'index')),
    anvilUrl: moduleUrl(join(root, 'src', 'chain', 'anvil')),
    wrapperUrl: moduleUrl(join(import.meta.dirname, 'anvil')),
  },
})
