/**
 * One notion of time: what the server lists and refuses follows the chain (its block's timestamp
 * and its current state), as the contracts do, not the wall clock or an index that lags behind.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestClient, http } from 'viem'
import { chainTime } from '../../src/chain/chainTime.js'
import { createGrant, revokeGrant } from '../../src/consent/grants.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { sessionToken } from './server.js'
import { PASSPHRASE, type TestStack, openTestStack } from './stack.js'

describe('chain time and chain state decide who lists a patient', () => {
  let s: TestStack
  let server: MedvaultServer
  let token: string
  const a = (name: string) => s.accounts[name]!

  before(async () => {
    s = await openTestStack({ others: ['alice', 'cardio'] })
    // An index that may be a minute old: what it says must not outlive the chain.
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 60_000, webRoot: false })
    token = await sessionToken(server.url, a('cardio').chainAccount)
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
  })

  const listed = async () => {
    const res = await fetch(`${server.url}/api/patients`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 200)
    return ((await res.json()) as { patients: { patient: string }[] }).patients.map((p) => p.patient)
  }
  const grantForAnHour = async () =>
    (
      await createGrant(s.mv, {
        grantor: a('alice'),
        patient: a('alice').address,
        grantee: a('cardio').address,
        terms: { scope: 'all' },
        expiresAt: new Date((await chainTime(s.mv.publicClient)).getTime() + 3600_000),
        purpose: 'treatment',
      })
    ).grantId

  // Finding 6a: the list came from the index alone, which caught up with a revoke only on its next sync.
  it('a revoked grant lists no patient at once, before the index has caught up', async () => {
    const grantId = await grantForAnHour()
    await server.indexer.sync()
    assert.deepEqual(await listed(), [a('alice').address])
    await revokeGrant(s.mv, { grantor: a('alice').chainAccount, grantId })
    assert.deepEqual(await listed(), [])
  })

  // Finding 6b: the list compared expiry with the wall clock; the contracts compare with the block's time.
  it('a grant expired on chain time lists no patient, though the wall clock says it still runs', async () => {
    await grantForAnHour()
    await server.indexer.sync()
    assert.deepEqual(await listed(), [a('alice').address])
    const test = createTestClient({ mode: 'anvil', chain: s.mv.chain, transport: http(s.mv.rpcUrl) })
    await test.increaseTime({ seconds: 2 * 3600 })
    await test.mine({ blocks: 1 })
    await server.indexer.sync()
    assert.ok((await chainTime(s.mv.publicClient)).getTime() > Date.now() + 3600_000, 'the chain runs ahead of the wall clock')
    assert.deepEqual(await listed(), [])
  })
})
