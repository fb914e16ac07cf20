/**
 * File arguments of the CLI. The rule (src/cli/outFile.ts): the CLI writes where its user says,
 * but never replaces an existing file or link without --force (and with --force replaces the link,
 * never the file it points to), and never writes into the medvault home nor reads a document from
 * it, however the path is spelled (`..`, symbolic links). Each test names the mechanism it depends
 * on; without that mechanism it fails.
 */
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { writeOutFile } from '../../src/cli/outFile.js'
import { medvault } from '../integration/cli.js'

describe('security: path traversal in file arguments of the CLI', () => {
  const root = mkdtempSync(join(tmpdir(), 'medvault-sec-paths-'))
  const home = join(root, 'home')
  const outside = join(root, 'outside')
  const mv = (...args: string[]) => medvault(home, args)
  const keystore = join(home, 'accounts', 'alice.json')

  before(async () => {
    mkdirSync(outside)
    // An external-chain home before any deployment: accounts are created without a chain, so these tests need none.
    assert.equal((await mv('init', '--rpc-url', 'http://127.0.0.1:9', '--chain-id', '77')).code, 0)
    const created = await mv('account', 'create', 'alice')
    assert.equal(created.code, 0, created.stderr)
  })
  after(() => rmSync(root, { recursive: true, force: true }))

  // Mechanism: checkOutPath refuses a target inside the home after resolving `..` and the real path of its folder.
  it('--out into the home is refused: by `..`, and by a symbolic link to the home', async () => {
    symlinkSync(home, join(outside, 'innocent'))
    for (const out of [
      join(outside, '..', basename(home), 'accounts', 'alice.json'),
      join(outside, 'innocent', 'accounts', 'bob.json'),
      join(outside, 'innocent', 'report.json'),
    ]) {
      const before = readFileSync(keystore, 'utf8')
      const res = await mv('report', '--as', 'alice', '--out', out, '--force')
      assert.equal(res.code, 2, res.stderr)
      assert.match(res.stderr, /inside the medvault home/)
      assert.equal(readFileSync(keystore, 'utf8'), before)
      assert.equal(existsSync(join(home, 'accounts', 'bob.json')), false)
      assert.equal(existsSync(join(home, 'report.json')), false)
    }
    const backup = await mv('backup', '--as', 'alice', '--out', join(home, 'alice.backup'))
    assert.equal(backup.code, 2)
    assert.match(backup.stderr, /inside the medvault home/)
  })

  // Mechanism: checkOutPath refuses an existing --out without --force (before any work is done).
  it('an existing --out, even ../etc-like, is not replaced without --force', async () => {
    const victim = join(outside, 'passwd')
    writeFileSync(victim, 'root:x:0:0\n')
    for (const args of [
      ['report', '--as', 'alice', '--out', join(outside, 'sub', '..', 'passwd')],
      ['export', '--patient', 'alice', '--as', 'alice', '--out', victim],
      ['backup', '--as', 'alice', '--out', victim],
      ['shc', 'trust-snapshot', '--out', victim],
    ]) {
      const res = await mv(...args)
      assert.equal(res.code, 2, `${args[0]}: ${res.stderr}`)
      assert.match(res.stderr, /already exists.*--force/)
      assert.equal(readFileSync(victim, 'utf8'), 'root:x:0:0\n')
    }
  })

  // Mechanism: placeFile links without --force (fails if anything is there) and renames with it (replacing the link, not its target).
  it('a symbolic link at --out: refused without --force; with --force the link is replaced and its target left alone', async () => {
    const target = join(outside, 'target.txt')
    writeFileSync(target, 'precious\n')
    const link = join(outside, 'out.json')
    symlinkSync(target, link)
    await assert.rejects(writeOutFile(link, 'plaintext', { home }), /already exists/)
    const dangling = join(outside, 'dangling.json')
    symlinkSync(join(outside, 'does-not-exist-yet'), dangling)
    await assert.rejects(writeOutFile(dangling, 'plaintext', { home }), /already exists/)
    assert.equal(existsSync(join(outside, 'does-not-exist-yet')), false, 'a dangling link is not followed to create its target')
    await writeOutFile(link, 'plaintext', { home, force: true })
    assert.equal(readFileSync(target, 'utf8'), 'precious\n')
    assert.equal(lstatSync(link).isSymbolicLink(), false)
    assert.equal(readFileSync(link, 'utf8'), 'plaintext')
  })

  // Mechanism: checkInputPath refuses a document whose real path is inside the home (record add, record amend, import).
  it('a document to send out that is really a file of the home is refused: by `..` and by a symbolic link', async () => {
    const viaDots = join(outside, '..', basename(home), 'accounts', 'alice.json')
    const viaLink = join(outside, 'lab-result.json')
    symlinkSync(keystore, viaLink)
    for (const file of [viaDots, viaLink]) {
      for (const args of [
        ['record', 'add', file, '--patient', 'alice', '--as', 'alice'],
        ['record', 'amend', '1', file, '--as', 'alice'],
        ['import', file, '--patient', 'alice', '--as', 'alice'],
      ]) {
        const res = await mv(...args)
        assert.equal(res.code, 2, `${args.slice(0, 2).join(' ')} ${file}: ${res.stderr}`)
        assert.match(res.stderr, /inside the medvault home/)
      }
    }
  })
})
