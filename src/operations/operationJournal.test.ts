import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { InvalidInputError, OperationJournalError } from '../errors.js'
import { operationFault } from './faults.js'
import {
  type OperationEntry,
  finishOperation,
  openOperationJournal,
  operationJournalPath,
  operationKey,
  replayOperation,
} from './operationJournal.js'

const dir = mkdtempSync(join(tmpdir(), 'medvault-ops-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const begin: OperationEntry = {
  t: 'begin',
  v: 1,
  op: 'record-add',
  key: 'a'.repeat(64),
  chainId: 31337,
  contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  sender: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
  fromBlock: '7',
  at: '2026-01-01T00:00:00.000Z',
  params: { category: 0 },
}
const sealed: OperationEntry = {
  t: 'sealed',
  cid: 'bafkrei',
  commitment: '0x01',
  category: 0,
  sensitivity: 0,
  key: { iv: '0x00', ct: '0x11' },
}
const submitted = (nonce: number, hash: string): OperationEntry => ({ t: 'submitted', nonce, txHash: hash, raw: '0x02' })
const confirmed: OperationEntry = { t: 'confirmed', txHash: '0xaa', block: '9', gasUsed: '1', id: '5' }

describe('operation journal', () => {
  it('replays each step: in flight, dropped, confirmed, slips, done', () => {
    assert.deepEqual(replayOperation([begin, sealed, submitted(1, '0xaa')]).inFlight.length, 1)
    assert.equal(replayOperation([begin, sealed, submitted(1, '0xaa'), { t: 'dropped', reason: 'replaced' }]).inFlight.length, 0)
    const done = replayOperation([begin, sealed, submitted(1, '0xaa'), confirmed, { t: 'slips', count: 1 }, { t: 'done', at: 'x' }])
    assert.equal(done.confirmed?.id, '5')
    assert.equal(done.slips, true)
    assert.equal(done.done, true)
  })

  it('refuses transitions a journal cannot hold', () => {
    for (const entries of [
      [sealed],
      [begin, begin],
      [begin, sealed, submitted(1, '0xaa'), submitted(2, '0xbb')],
      [begin, { t: 'dropped', reason: 'reverted' }],
      [begin, sealed, submitted(1, '0xaa'), confirmed, confirmed],
      [begin, { t: 'done', at: 'x' }],
    ] as OperationEntry[][]) {
      assert.throws(() => replayOperation(entries), OperationJournalError)
    }
  })

  it('one key per request; the same request, the same key', () => {
    assert.equal(operationKey('grant', [1, '0xAB']), operationKey('grant', [1, '0xab']))
    assert.notEqual(operationKey('grant', [1, '0xab']), operationKey('record-add', [1, '0xab']))
  })

  it('cuts a torn line, drops record keys once done, refuses a second holder', () => {
    const path = operationJournalPath(dir, 'record-add', 'b'.repeat(64))
    const journal = openOperationJournal(path)
    journal.append(begin, sealed)
    journal.sync()
    journal.close()
    appendFileSync(path, '{"t":"submi')
    const again = openOperationJournal(path)
    assert.deepEqual(again.entries, [begin, sealed])
    finishOperation(again)
    assert.equal((again.entries[1] as { key?: unknown }).key, undefined)
    assert.equal(again.entries.at(-1)?.t, 'done')
    again.close()
    const reread = openOperationJournal(path)
    assert.equal((reread.entries[1] as { key?: unknown }).key, undefined)
    reread.close()
  })

  it('MEDVAULT_FAULT names an operation and one of its points', () => {
    assert.ok(operationFault('grant:after-submit', 'grant'))
    assert.ok(operationFault('record-add:after-seal:2', 'record-add'))
    assert.equal(operationFault('grant:after-submit', 'record-add'), undefined)
    assert.equal(operationFault(undefined, 'grant'), undefined)
    assert.throws(() => operationFault('grant:after-seal', 'grant'), InvalidInputError, 'a grant seals nothing')
    assert.throws(() => operationFault('record-add:after-seal:0', 'record-add'), InvalidInputError)
  })
})
