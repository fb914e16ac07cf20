import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTagTable } from '../core/index.js'
import { MAX_GRANT_TAGS, tagsForTerms } from './grantTerms.js'

const table = buildTagTable(new Uint8Array(32).fill(7))

test('an "all" grant lists only the sensitive classes whose flags it names', () => {
  const tags = tagsForTerms(table, { scope: 'all', sensitive: 1 })
  const classes = table.filter((e) => tags.includes(e.tag))
  assert.ok(classes.length > 0)
  assert.ok(classes.every((e) => e.sensitivity === 1))
  assert.deepEqual(tagsForTerms(table, { scope: 'all' }), [])
})

test('a grant that would list more tags than the contract holds is refused before sending, with a way out', () => {
  assert.throws(
    () => tagsForTerms(table, { scope: 'all', sensitive: 31 }),
    (e: Error & { hint?: string }) => e.name === 'InvalidInputError' && e.message.includes(`at most ${MAX_GRANT_TAGS}`),
  )
  assert.ok(tagsForTerms(table, { scope: 'categories', categories: ['mental-health'], sensitive: 0 }).length <= MAX_GRANT_TAGS)
})
