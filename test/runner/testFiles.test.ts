/**
 * scripts/test-files.mjs, which runs every test file of `npm test` in the order given, must end with
 * the exit code `node --test` would: 1 for a failed test, 0 when the only failure is a test marked
 * todo (CI reads the exit code; a todo must not turn it red).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../../scripts/test-files.mjs', import.meta.url))

describe('scripts/test-files.mjs exit code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-test-files-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  function runFiles(files: Record<string, string>, extraEnv: Record<string, string> = {}) {
    const paths = Object.entries(files).map(([name, body]) => {
      const path = join(dir, name)
      writeFileSync(path, `import { it } from 'node:test'\n${body}\n`)
      return path
    })
    const args = JSON.stringify({ files: paths, concurrency: 1, timesFile: join(dir, 'times.json') })
    // Without NODE_TEST_CONTEXT: set by the runner this test runs under, it would make the script's
    // run() report to a parent runner instead of printing its own closing lines.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env
    return spawnSync(process.execPath, [script, args], { encoding: 'utf8', env: { ...env, NODE_OPTIONS: '', ...extraEnv } })
  }

  it('is 0 when every test passes or is a failing todo', () => {
    const result = runFiles({
      'passes.test.mjs': "it('passes', () => {})",
      'todo.test.mjs': "it('not built yet', { todo: 'later' }, () => { throw new Error('fails, as a todo may') })",
    })
    assert.match(result.stdout, /# todo 1/)
    assert.match(result.stdout, /# fail 0/)
    assert.equal(result.status, 0, result.stdout)
  })

  it('stops a file that runs past its time limit, names it, and counts what it cut short as failed', () => {
    const started = Date.now()
    const result = runFiles(
      {
        'hangs.test.mjs': "it('never ends', async () => { await new Promise(() => setInterval(() => {}, 1000)) })",
        'passes.test.mjs': "it('passes', () => {})",
      },
      { MEDVAULT_TEST_FILE_TIMEOUT_MS: '1500' },
    )
    assert.ok(Date.now() - started < 30_000, 'the run ended soon after the limit')
    assert.equal(result.status, 1, result.stdout)
    assert.match(result.stdout, /# cancelled 1/)
    assert.match(result.stdout, /# pass 1/)
    assert.match(result.stdout, /# fail 1\n/, 'the cancelled test counts as failed in the closing lines')
    assert.match(result.stdout, /# failed tests \(1\):\n#\s+\S*hangs\.test\.mjs: \S*hangs\.test\.mjs \(test timed out after 1500ms\)/)
  })

  it('is 1 when a test fails', () => {
    const result = runFiles({ 'fails.test.mjs': "it('fails', () => { throw new Error('no') })" })
    assert.match(result.stdout, /# fail 1/)
    assert.equal(result.status, 1)
  })
})
