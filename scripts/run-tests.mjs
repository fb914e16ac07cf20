// Runs every *.test.ts under src/ and test/ with node's test runner (Node 20 has no --test globs).
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  )
}
const only = process.argv.slice(2)
const files = only.length > 0 ? only : ['src', 'test'].flatMap(find).sort()
// Test homes are throwaway: accounts get a light scrypt (see src/accounts/keystore.ts), which saves
// ~0.6 s per account created or unlocked; src/accounts/keystore.test.ts checks the default cost.
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, MEDVAULT_LIGHT_KDF: '1' },
})
process.exit(result.status ?? 1)
