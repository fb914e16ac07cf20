import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ImportJournalError } from '../errors.js'
import { replayJournal } from './importState.js'
import type { JournalEntry } from './journal.js'
import { begin, sealed } from '../../test/fixtures/importJournal.js'

const submitted = (batch: number, items: number[], nonce: number, hash = batch): JournalEntry => ({
  t: 'submitted',
  batch,
  items,
  nonce,
  txHash: `0x${String(hash).padStart(64, 'f')}`,
  maxFeePerGas: '2000000000',
  maxPriorityFeePerGas: '1000000000',
})
const confirmed = (batch: number, tokens: [number, string][]): JournalEntry => ({
  t: 'confirmed',
  batch,
  txHash: `0x${String(batch).padStart(64, 'f')}`,
  block: '12',
  gasUsed: '210000',
  tokens,
})

const statusOf = (entries: JournalEntry[]) =>
  Object.fromEntries(
    [...replayJournal(entries).items].map(([i, item]) => [i, item.status === 'confirmed' ? `#${item.tokenId}` : item.status]),
  )

function inconsistent(entries: JournalEntry[], pattern: RegExp) {
  assert.throws(
    () => replayJournal(entries),
    (e: unknown) => e instanceof ImportJournalError && pattern.test(e.message),
  )
}

describe('replayJournal', () => {
  it('follows each entry from sealed to submitted to confirmed', () => {
    const entries = [
      begin,
      sealed(1),
      sealed(2),
      sealed(3),
      submitted(1, [1, 2], 5),
      confirmed(1, [
        [1, '10'],
        [2, '11'],
      ]),
    ]
    assert.deepEqual(statusOf(entries), { 1: '#10', 2: '#11', 3: 'sealed' })
    const state = replayJournal([...entries, submitted(2, [3], 6)])
    assert.deepEqual(state.batches.get(1)?.confirmed, { txHash: `0x${'1'.padStart(64, 'f')}`, block: 12n, gasUsed: 210000n })
    assert.equal(state.batches.get(2)?.status, 'submitted')
    assert.equal(state.nextBatch, 3)
    assert.equal(state.begin?.fromBlock, '7')
  })

  it('keeps every signed version of a batch as a candidate', () => {
    const state = replayJournal([begin, sealed(1), submitted(1, [1], 5, 1), submitted(1, [1], 5, 2)])
    assert.deepEqual(
      state.batches.get(1)?.txs.map((t) => t.hash),
      [`0x${'1'.padStart(64, 'f')}`, `0x${'2'.padStart(64, 'f')}`],
    )
  })

  it('returns the entries of a dropped batch to sealed, with the same sealed record', () => {
    const state = replayJournal([begin, sealed(1), sealed(2), submitted(1, [1, 2], 5), { t: 'dropped', batch: 1, reason: 'replaced' }])
    assert.equal(state.batches.get(1)?.status, 'dropped')
    const item = state.items.get(2)
    assert.equal(item?.status, 'sealed')
    assert.equal(item?.sealed.commitment, `0x${'2'.padStart(64, '0')}`)
  })

  it('puts a reopened batch back in flight', () => {
    const entries = [
      begin,
      sealed(1),
      submitted(1, [1], 5),
      confirmed(1, [[1, '10']]),
      { t: 'reopened', batch: 1, reason: 'not-on-chain' } as const,
    ]
    const state = replayJournal(entries)
    assert.equal(state.items.get(1)?.status, 'submitted')
    assert.equal(state.batches.get(1)?.status, 'submitted')
    assert.equal(state.batches.get(1)?.confirmed, undefined)
    assert.deepEqual(statusOf([...entries, confirmed(1, [[1, '12']])]), { 1: '#12' })
  })

  it('lets an unsent entry be sealed again (its ciphertext was lost), the newest seal winning', () => {
    const state = replayJournal([begin, sealed(1, 1), sealed(1, 9)])
    assert.equal(state.items.get(1)?.sealed.commitment, `0x${'9'.padStart(64, '0')}`)
  })

  it('refuses transitions a journal written by medvault never holds', () => {
    inconsistent([sealed(1)], /line 1: it does not start with a begin entry/)
    inconsistent([begin, begin], /a second begin entry/)
    inconsistent([begin, sealed(1), submitted(1, [1], 5), sealed(1)], /entry 1 sealed again while submitted/)
    inconsistent([begin, submitted(1, [1], 5)], /entry 1 submitted while not sealed/)
    inconsistent([begin, sealed(1), sealed(2), submitted(1, [1], 5), submitted(2, [1, 2], 6)], /entry 1 submitted while submitted/)
    inconsistent([begin, sealed(1), submitted(1, [1], 5), submitted(1, [1], 6)], /batch 1 re-sent with other contents/)
    inconsistent([begin, sealed(1), sealed(2), submitted(2, [1], 5), submitted(1, [2], 6)], /batch 1 reuses a batch number/)
    inconsistent([begin, sealed(1), submitted(1, [1], 5), confirmed(1, [[2, '10']])], /batch 1 confirmed with other entries/)
    inconsistent(
      [begin, sealed(1), submitted(1, [1], 5), confirmed(1, [[1, '10']]), confirmed(1, [[1, '10']])],
      /confirmed while confirmed/,
    )
    inconsistent(
      [begin, sealed(1), submitted(1, [1], 5), confirmed(1, [[1, '10']]), { t: 'dropped', batch: 1, reason: 'reverted' }],
      /dropped while confirmed/,
    )
    inconsistent([begin, sealed(1), submitted(1, [1], 5), { t: 'reopened', batch: 1, reason: 'not-on-chain' }], /reopened while submitted/)
    inconsistent(
      [begin, sealed(1), submitted(1, [1], 5), { t: 'dropped', batch: 1, reason: 'replaced' }, submitted(1, [1], 5)],
      /re-sent after it was dropped/,
    )
  })
})
