// Preloaded (`node --import`) into each contract test process by scripts/coverage/run.ts.
import { register } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const dir = process.env.MEDVAULT_COVERAGE_DIR
if (!dir) throw new Error('MEDVAULT_COVERAGE_DIR is not set: run the contract coverage with `npm run coverage`')
const root = join(import.meta.dirname, '..', '..')
register('./hooks.mjs', import.meta.url, {
  data: {
    artifactsUrl: pathToFileURL(join(dir, 'artifacts', 'index.ts')).href,
    anvilUrl: pathToFileURL(join(root, 'src', 'chain', 'anvil.ts')).href,
    wrapperUrl: pathToFileURL(join(import.meta.dirname, 'anvil.ts')).href,
  },
})
