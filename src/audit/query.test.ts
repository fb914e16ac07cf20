import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { InvalidInputError } from '../errors.js'
import { AuditLogError } from './errors.js'
import { type AuditLog, openAuditLog } from './log.js'
import { filterAuditEntries, queryAuditLog, readAuditLog } from './query.js'

const root = mkdtempSync(join(tmpdir(), 'medvault-audit-query-'))
after(() => rmSync(root, { recursive: true, force: true }))
const [alice, bob, lab] = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()).address) as [
  `0x${string}`,
  `0x${string}`,
  `0x${string}`,
]
let log: AuditLog

before(async () => {
  log = await openAuditLog({ dir: join(root, 'audit'), signer: privateKeyToAccount(generatePrivateKey()), sync: false })
  await log.append({ actor: lab, action: 'read', tokenId: 1n, patient: alice, outcome: 'allowed', purpose: 'treatment' })
  await log.append({ actor: lab, action: 'read', tokenId: 2n, patient: bob, outcome: 'denied', reason: 'ACCESS_DENIED' })
  await log.append({ actor: alice, action: 'grant', tokenId: 1n, patient: alice, outcome: 'allowed' })
  await log.append({ actor: bob, action: 'read', tokenId: '1', patient: alice, outcome: 'denied', reason: 'ACCESS_DENIED' })
  await log.append({ actor: lab, action: 'verify', outcome: 'allowed' })
})

describe('audit queries', () => {
  it('finds the entries about a patient, or a record', async () => {
    assert.deepEqual(
      (await queryAuditLog(log.dir, { patient: alice })).map((e) => e.seq),
      [0, 2, 3],
    )
    assert.deepEqual(
      (await queryAuditLog(log.dir, { patient: alice.toLowerCase() as `0x${string}` })).map((e) => e.seq),
      [0, 2, 3],
    )
    assert.deepEqual(
      (await queryAuditLog(log.dir, { tokenId: 1n })).map((e) => e.seq),
      [0, 2, 3],
    )
    assert.deepEqual(
      (await queryAuditLog(log.dir, { tokenId: '2' })).map((e) => e.seq),
      [1],
    )
    assert.deepEqual(await queryAuditLog(log.dir, { tokenId: 42n }), [])
  })

  it('combines criteria', async () => {
    const entries = await readAuditLog(log.dir)
    assert.deepEqual(
      filterAuditEntries(entries, { patient: alice, outcome: 'denied' }).map((e) => e.seq),
      [3],
    )
    assert.deepEqual(
      filterAuditEntries(entries, { actor: lab, action: 'read' }).map((e) => e.seq),
      [0, 1],
    )
    const first = Date.parse(entries[0]!.at)
    assert.equal(filterAuditEntries(entries, { since: new Date(first) }).length, 5)
    assert.equal(filterAuditEntries(entries, { until: new Date(first) }).length, 0)
  })

  it('rejects malformed criteria, and a damaged log', async () => {
    assert.throws(() => filterAuditEntries([], { patient: 'alice' as `0x${string}` }), InvalidInputError)
    assert.throws(() => filterAuditEntries([], { tokenId: 'seven' }), InvalidInputError)
    assert.deepEqual(await readAuditLog(join(root, 'missing')), [])
    const damaged = await openAuditLog({ dir: join(root, 'damaged'), signer: privateKeyToAccount(generatePrivateKey()) })
    await damaged.append({ actor: lab, action: 'read', outcome: 'allowed' })
    appendFileSync(join(damaged.dir, 'log.jsonl'), 'garbage\n')
    await assert.rejects(readAuditLog(damaged.dir), AuditLogError)
  })
})
