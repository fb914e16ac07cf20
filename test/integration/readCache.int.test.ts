/**
 * The server's read cache never answers past the block that could change the answer: a revocation
 * bites from the revoking block on while 16 connections read, and an amended or erased record is
 * never served from the cache as current. A real anvil, a real Helia blockstore, a real HTTP server.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import type { Bundle } from '@medplum/fhirtypes'
import { createGrant, revokeGrant } from '../../src/consent/index.js'
import { markErased } from '../../src/erasure/index.js'
import { documentFromFhir, issueRecord, releasePendingKeys } from '../../src/records/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { sessionToken } from './server.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack } from './stack.js'

describe('the read cache', () => {
  let s: TestStack
  let server: MedvaultServer
  const a = (name: string) => s.accounts[name]!
  const sessions: Record<string, string> = {}
  /** Alice shares one record with cardio for an hour, and cardio's key slip is released. */
  async function shareWithCardio(tokenId: bigint): Promise<bigint> {
    const { grantId } = await createGrant(s.mv, {
      grantor: a('alice'),
      patient: a('alice').address,
      grantee: a('cardio').address,
      terms: { scope: 'records', tokenIds: [tokenId] },
      expiresAt: new Date(Date.now() + 3600_000),
      purpose: 'treatment',
    })
    await releasePendingKeys(s.mv, a('alice'))
    return grantId
  }
  const get = (path: string, who: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${sessions[who]}` } })
  const matchIds = (bundle: Bundle) =>
    (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => `${e.resource!.resourceType}/${e.resource!.id}`)

  before(async () => {
    s = await openTestStack({ providers: { lab: 'City Lab' }, others: ['alice', 'cardio'] })
    // The default index age (1 s): a change must be seen by the next request all the same.
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, limits: { requestsPerMinute: 10_000_000 } })
    for (const name of ['alice', 'cardio']) sessions[name] = await sessionToken(server.url, a(name).chainAccount)
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
  })

  it('refuses every read sent after the revoking block, while 16 connections read as the grantee', async () => {
    const tokenId = await issueExample(s, 'glucose.json', 'lab', 'alice')
    const grantId = await shareWithCardio(tokenId)
    const auditBefore = (await s.mv.auditLog.entries()).length

    const results: { sentAt: number; status: number }[] = []
    let revokedAt = Number.POSITIVE_INFINITY
    let stop = false
    const connection = async () => {
      while (!stop) {
        const sentAt = performance.now()
        const res = await get(`/fhir/Observation/${tokenId}`, 'cardio')
        await res.arrayBuffer()
        results.push({ sentAt, status: res.status })
      }
    }
    const connections = Array.from({ length: 16 }, connection)
    // At least 1.5 s of reads each side, and enough of them to count even on a busy machine.
    const readFor = async (enough: () => boolean) => {
      const until = performance.now() + 1500
      const limit = performance.now() + 60_000
      while ((performance.now() < until || !enough()) && performance.now() < limit) await new Promise((r) => setTimeout(r, 50))
    }
    await readFor(() => results.filter((r) => r.status === 200).length > 60)
    await revokeGrant(s.mv, { grantor: a('alice').chainAccount, grantId }) // resolves once the block is mined
    revokedAt = performance.now()
    await readFor(() => results.filter((r) => r.sentAt > revokedAt).length > 60)
    stop = true
    await Promise.all(connections)

    const before = results.filter((r) => r.sentAt < revokedAt)
    const afterRevoke = results.filter((r) => r.sentAt > revokedAt)
    assert.ok(before.filter((r) => r.status === 200).length > 50, `reads were served from the cache before: ${before.length}`)
    assert.ok(afterRevoke.length > 50, `reads kept coming after the revocation: ${afterRevoke.length}`)
    const served = afterRevoke.filter((r) => r.status !== 403)
    assert.deepEqual(served, [], `${served.length} of ${afterRevoke.length} reads sent after the revoking block were not refused`)
    // Every attempt, allowed or denied, is in the audit trail.
    const entries = (await s.mv.auditLog.entries()).slice(auditBefore)
    const reads = entries.filter((e) => e.action === 'read' && e.tokenId === String(tokenId) && e.actor === a('cardio').address)
    assert.equal(reads.filter((e) => e.outcome === 'denied').length, results.filter((r) => r.status === 403).length)
    // One more allowed read than 200s: the first read at the block opened the grantee's view of the
    // history once (to resolve references), shared by the reads that came with it.
    assert.equal(reads.filter((e) => e.outcome === 'allowed').length, results.filter((r) => r.status === 200).length + 1)
  })

  it('never serves an amended record as current, nor an erased one at all, though both were cached', async () => {
    const old = await issueExample(s, 'glucose.json', 'lab', 'alice')
    const erased = await issueExample(s, 'immunization.json', 'lab', 'alice')
    const search = '/fhir/Observation?code=2345-7'
    // Warm every cache: the content, the chain's answers at this block, the searchable fields.
    assert.equal((await get(`/fhir/Observation/${old}`, 'alice')).status, 200)
    assert.equal((await get(`/fhir/Immunization/${erased}`, 'alice')).status, 200)
    assert.ok(matchIds((await (await get(search, 'alice')).json()) as Bundle).includes(`Observation/${old}`))
    const everything = `/fhir/Patient/${a('alice').address}/$everything`
    assert.ok(matchIds((await (await get(everything, 'alice')).json()) as Bundle).includes(`Immunization/${erased}`))

    const doc = documentFromFhir(readFileSync(new URL('../../examples/fhir/glucose-corrected.json', import.meta.url)))
    const { tokenId: amended } = await issueRecord(s.mv, {
      issuer: a('lab'),
      patient: a('alice'),
      content: doc.content,
      contentType: doc.contentType,
      category: doc.category,
      consent: { patient: a('alice') },
      supersedes: old,
    })
    // At once, within the index's 1 s: the search shows the amendment, not the record it replaced.
    // Both are versions of one logical resource (its first token id): the match is its version 2.
    const bundle = (await (await get(search, 'alice')).json()) as Bundle
    const match = (bundle.entry ?? []).find((e) => e.search?.mode === 'match' && e.resource?.id === String(old))
    assert.equal(match?.resource?.meta?.versionId, '2', `the amendment (token ${amended}) is found as the current version`)
    assert.ok(!matchIds(bundle).includes(`Observation/${amended}`), 'an amendment is not a resource of its own')
    // The current read is the amendment; the old version stays readable, as history.
    const current = (await (await get(`/fhir/Observation/${old}`, 'alice')).json()) as { meta?: { versionId?: string } }
    assert.equal(current.meta?.versionId, '2')
    assert.equal((await get(`/fhir/Observation/${old}/_history/1`, 'alice')).status, 200)

    // Erased on chain only: its ciphertext and keys are still there, so only the chain can say no.
    await markErased(s.mv, { patient: a('alice').chainAccount, tokenIds: [erased] })
    const read = await get(`/fhir/Immunization/${erased}`, 'alice')
    assert.equal(read.status, 410, await read.text())
    assert.ok(!matchIds((await (await get(everything, 'alice')).json()) as Bundle).includes(`Immunization/${erased}`))
    assert.deepEqual(matchIds((await (await get(`/fhir/Immunization?_id=${erased}`, 'alice')).json()) as Bundle), [])
  })

  it("lists a grantee's view of the history once per head block, not on every read, and again after a block", async () => {
    const tokenId = await issueExample(s, 'glucose.json', 'lab', 'alice')
    await shareWithCardio(tokenId)
    const lists = async (since: number) =>
      (await s.mv.auditLog.entries()).slice(since).filter((e) => e.action === 'list' && e.actor === a('cardio').address).length
    const since = (await s.mv.auditLog.entries()).length
    for (let i = 0; i < 3; i++) assert.equal((await get(`/fhir/Observation/${tokenId}`, 'cardio')).status, 200)
    // The view (which records the grantee may see, for resolving references) is the same within a block.
    assert.equal(await lists(since), 1)
    await issueExample(s, 'immunization.json', 'lab', 'alice') // a new block: the view is listed again
    assert.equal((await get(`/fhir/Observation/${tokenId}`, 'cardio')).status, 200)
    assert.equal(await lists(since), 2)
    // Every read is still audited, one entry each, and the view once more when it was opened to resolve references.
    const reads = (await s.mv.auditLog.entries())
      .slice(since)
      .filter((e) => e.action === 'read' && e.tokenId === String(tokenId) && e.actor === a('cardio').address)
    assert.equal(reads.length, 4 + 1)
  })
})
