/** `medvault index status|rebuild`, run in-process against a home with records on its embedded chain. */
import assert from 'node:assert/strict'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { main } from '../../src/cli/main.js'
import { openSqliteIndex } from '../../src/indexer/index.js'
import { type TestStack, issueExample, openTestStack } from './stack.js'

/** Runs the CLI with `args`, returning its exit code and what it printed on stdout. */
async function medvault(args: string[]): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write.bind(process.stdout)
  let stdout = ''
  // The CLI writes strings; the test runner reports to its parent over stdout in binary frames,
  // which may go out while a command awaits: those pass through.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (write as (...a: unknown[]) => boolean)(chunk, ...rest)
    stdout += chunk
    return true
  }) as typeof process.stdout.write
  try {
    const code = await main(args)
    return { code, stdout }
  } finally {
    process.stdout.write = write
  }
}

describe('medvault index status|rebuild', () => {
  let s: TestStack
  let home: string

  before(async () => {
    s = await openTestStack({ providers: { lab: 'Lab A' }, others: ['alice'] })
    home = s.home
    await issueExample(s, 'glucose.json', 'lab', 'alice')
    await issueExample(s, 'immunization.json', 'lab', 'alice')
    await s.mv.close() // the CLI opens the home (and its chain) itself
  })
  after(() => rmSync(home, { recursive: true, force: true }))

  it('reports an empty index, rebuilds it from the chain, then reports it in step', async () => {
    const empty = await medvault(['--home', home, 'index', 'status'])
    assert.equal(empty.code, 0)
    assert.match(empty.stdout, /Empty: nothing indexed yet .* Run `medvault index rebuild`/)

    const rebuilt = await medvault(['--home', home, '--json', 'index', 'rebuild', '--batch-blocks', '2'])
    assert.equal(rebuilt.code, 0, rebuilt.stdout)
    const result = JSON.parse(rebuilt.stdout)
    assert.equal(result.kind, 'sqlite')
    assert.equal(result.location, join(home, 'index.sqlite'))
    assert.deepEqual(result.counts, { records: 2, grants: 0, providers: 1 })
    assert.ok(existsSync(join(home, 'index.sqlite')))

    const status = JSON.parse((await medvault(['--home', home, '--json', 'index', 'status'])).stdout)
    assert.equal(status.lastBlock, result.lastBlock)
    assert.equal(status.lag, '0')
    assert.equal(status.headBlock, result.lastBlock)

    // Deleting the file loses nothing that matters: rebuild brings back the same rows.
    const before = await openSqliteIndex(join(home, 'index.sqlite'))
    const records = await before.recordsOf(s.accounts.alice!.address)
    await before.close()
    for (const f of ['index.sqlite', 'index.sqlite-wal', 'index.sqlite-shm']) rmSync(join(home, f), { force: true })
    assert.equal((await medvault(['--home', home, 'index', 'rebuild'])).code, 0)
    const after = await openSqliteIndex(join(home, 'index.sqlite'))
    assert.deepEqual(await after.recordsOf(s.accounts.alice!.address), records)
    await after.close()
  })

  it('refuses a bad --batch-blocks with exit code 2', async () => {
    const { code, stdout } = await medvault(['--home', home, '--json', 'index', 'rebuild', '--batch-blocks', 'lots'])
    assert.equal(code, 2)
    assert.equal(JSON.parse(stdout).error.code, 'INVALID_INPUT')
  })
})
