import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HttpError } from '../outcomes.js'
import { type SortKey, formatCursor, page, parseSearchQuery } from './searchQuery.js'

const keys = (ids: number[]): SortKey[] => ids.map((id) => ({ value: 0, tokenId: BigInt(id) }))
const ids = (items: SortKey[]) => items.map((k) => Number(k.tokenId))

describe('search paging', () => {
  const sort = { by: 'id' as const, descending: false }
  it('pages forward and back by cursor, not offset', () => {
    const all = keys([1, 2, 3, 4, 5])
    const first = page(all, (k) => k, { count: 2, cursor: undefined, sort })
    assert.deepEqual(ids(first.items), [1, 2])
    assert.equal(first.previous, undefined)
    // A record inserted before the cursor does not shift the next page.
    const withInsert = keys([0, 1, 2, 3, 4, 5])
    const second = page(withInsert, (k) => k, { count: 2, cursor: { direction: 'after', key: first.next! }, sort })
    assert.deepEqual(ids(second.items), [3, 4])
    const back = page(withInsert, (k) => k, { count: 2, cursor: { direction: 'before', key: second.previous! }, sort })
    assert.deepEqual(ids(back.items), [1, 2])
    const last = page(all, (k) => k, { count: 2, cursor: { direction: 'after', key: second.next! }, sort })
    assert.deepEqual(ids(last.items), [5])
    assert.equal(last.next, undefined)
  })

  it('round-trips a cursor, and refuses one it did not make', () => {
    const q = parseSearchQuery([['_cursor', formatCursor('before', { value: -5, tokenId: 7n })]], false)
    assert.deepEqual(q.cursor, { direction: 'before', key: { value: -5, tokenId: 7n } })
    assert.throws(() => parseSearchQuery([['_cursor', '10']], false), HttpError)
  })

  it('drops what it does not apply, or refuses it when strict', () => {
    const q = parseSearchQuery(
      [
        ['code:text', 'x'],
        ['_count', '3'],
        ['_total', 'accurate'],
      ],
      false,
    )
    assert.deepEqual(q.applied, [['_count', '3']])
    assert.equal(q.count, 3)
    assert.throws(
      () => parseSearchQuery([['_total', 'accurate']], true),
      (e: HttpError) => e.status === 400 && e.issue === 'not-supported',
    )
    assert.throws(
      () => parseSearchQuery([['_count', '0']], false),
      (e: HttpError) => e.status === 400,
    )
  })
})
