import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ImportJournalError } from '../errors.js'
import { type JournalEntry, importJournalPath, openImportJournal } from './journal.js'
import { journalKeyOf, openJournalKey, sealJournalKey } from './journalKeys.js'
import { begin, sealed } from '../../test/fixtures/importJournal.js'

const dir = mkdtempSync(join(tmpdir(), 'medvault-journal-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const fresh = () => importJournalPath(join(dir, 'imports'), `j${++n}`)

describe('import journal', () => {
  it('appends entries and reads them back in order', () => {
    const path = fresh()
    const journal = openImportJournal(path)
    assert.deepEqual(journal.entries, [])
    journal.append(begin)
    journal.append(sealed(1), sealed(2))
    journal.sync()
    journal.close()
    const again = openImportJournal(path)
    assert.deepEqual(again.entries, [begin, sealed(1), sealed(2)])
    again.close()
    assert.equal(readFileSync(path, 'utf8').split('\n').length, 4, 'one line per entry')
  })

  it('cuts off a torn last line (a crash mid-write) and appends after it', () => {
    const path = fresh()
    const journal = openImportJournal(path)
    journal.append(begin, sealed(1))
    journal.close()
    appendFileSync(path, JSON.stringify(sealed(2)).slice(0, 40))
    const reopened = openImportJournal(path)
    assert.deepEqual(reopened.entries, [begin, sealed(1)])
    reopened.append(sealed(3))
    reopened.close()
    const last = openImportJournal(path)
    assert.deepEqual(last.entries, [begin, sealed(1), sealed(3)])
    last.close()
  })

  it('refuses a journal damaged anywhere but the last line', () => {
    const path = fresh()
    writeFileSync(path, `${JSON.stringify(begin)}\n{"t":"sealed","i":"x"}\n${JSON.stringify(sealed(1))}\n`)
    assert.throws(
      () => openImportJournal(path),
      (e: unknown) => e instanceof ImportJournalError && /damaged \(line 2\)/.test(e.message),
    )
    assert.ok(!existsSync(`${path}.lock`), 'the lock is released after a refusal')
  })

  it('is held by one import at a time', () => {
    const path = fresh()
    const first = openImportJournal(path)
    // The lock names this (live) process; a second open from another process is refused.
    const other = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import('${new URL('./journal.ts', import.meta.url).href}').then((m) => m.openImportJournal(${JSON.stringify(path)}))`,
      ],
      { encoding: 'utf8' },
    )
    assert.notEqual(other.status, 0)
    assert.match(other.stderr, /This import is already running \(process \d+\)/)
    first.close()
    assert.ok(!existsSync(`${path}.lock`))
  })

  it('takes over the lock of a process that is gone (killed mid-import)', () => {
    const path = fresh()
    openImportJournal(path).close()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    writeFileSync(`${path}.lock`, `${dead.stdout}\n`)
    const journal = openImportJournal(path)
    assert.equal(readFileSync(`${path}.lock`, 'utf8').trim(), String(process.pid))
    journal.close()
  })

  it('is rewritten atomically, then appended to and read back as rewritten', () => {
    const path = fresh()
    const journal = openImportJournal(path)
    journal.append(begin, sealed(1), sealed(2))
    const { key: _key, ...keyless } = sealed(1) as Extract<JournalEntry, { t: 'sealed' }>
    journal.rewrite([begin, keyless])
    assert.deepEqual(journal.entries, [begin, keyless])
    journal.append(sealed(3))
    journal.close()
    assert.ok(!readdirSync(join(dir, 'imports')).some((f) => f.endsWith('.tmp')))
    const again = openImportJournal(path)
    assert.deepEqual(again.entries, [begin, keyless, sealed(3)])
    again.close()
  })

  it('rejects appends after close', () => {
    const journal = openImportJournal(fresh())
    journal.close()
    assert.throws(() => journal.append(begin), ImportJournalError)
  })
})

describe('journal record keys', () => {
  const seed = new Uint8Array(32).fill(7)
  const cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
  const issuer = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
  const recordKey = new Uint8Array(32).fill(9)

  it('round-trips under the issuer seed, bound to the CID and the issuer', () => {
    const box = sealJournalKey(journalKeyOf(seed), recordKey, cid, issuer)
    assert.deepEqual(openJournalKey(journalKeyOf(seed), box, cid, issuer), recordKey)
    assert.notEqual(box.ct.includes(Buffer.from(recordKey).toString('hex')), true)
    assert.throws(() => openJournalKey(journalKeyOf(new Uint8Array(32).fill(8)), box, cid, issuer), ImportJournalError)
    assert.throws(() => openJournalKey(journalKeyOf(seed), box, `${cid.slice(0, -1)}a`, issuer), ImportJournalError)
    assert.throws(() => openJournalKey(journalKeyOf(seed), box, cid, '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'), ImportJournalError)
  })
})
