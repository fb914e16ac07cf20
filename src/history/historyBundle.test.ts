import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Observation, Resource } from '@medplum/fhirtypes'
import { type Address, getAddress } from 'viem'
import { referencesIn } from '../fhir/index.js'
import type { OnChainRecord } from '../records/index.js'
import type { HistoryEntry } from './assembleHistory.js'
import { SUPERSEDED_TAG, historyBundle } from './historyBundle.js'
import { versionsOf } from './versions.js'

const patient = getAddress('0x00000000000000000000000000000000000000aa')
const chain = { chainId: 31337, records: '0x00000000000000000000000000000000000000bB' as Address }

function record(tokenId: bigint, supersedes = 0n, supersededBy = 0n): OnChainRecord {
  return {
    tokenId,
    owner: patient,
    issuer: patient,
    issuedAt: new Date(1_700_000_000_000 + Number(tokenId)),
    supersedes,
    supersededBy,
  } as OnChainRecord
}

describe('historyBundle links', () => {
  // Records sealed before references were resolved: Synthea's urn:uuid: references, as imported then.
  const encounter = { resourceType: 'Encounter', id: 'enc-uuid', status: 'finished', subject: { reference: 'urn:uuid:patient-uuid' } }
  const observation = (value: number) =>
    ({
      resourceType: 'Observation',
      id: 'obs-uuid',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: 'urn:uuid:patient-uuid' },
      encounter: { reference: 'urn:uuid:enc-uuid' },
      valueQuantity: { value },
    }) as Observation
  const records = [record(5n), record(6n, 0n, 7n), record(7n, 6n)]
  const versions = versionsOf(records)
  const entry = (r: OnChainRecord, resource: Resource): HistoryEntry => ({
    record: r,
    meta: { contentType: 'application/fhir+json' } as HistoryEntry['meta'],
    resource,
    version: versions.get(r.tokenId)!,
  })
  const history = {
    patient,
    entries: [entry(records[0]!, encounter as Resource), entry(records[1]!, observation(1)), entry(records[2]!, observation(2))],
    failures: [],
    hidden: 0,
  }

  it('serves records sealed with urn:uuid: references with them resolved, within a server Bundle', () => {
    const bundle = historyBundle(history, { type: 'searchset', baseUrl: 'https://x/fhir', ...chain, includePatient: true })
    const urls = new Set(bundle.entry!.map((e) => e.fullUrl))
    const obs = bundle.entry!.at(-1)!.resource as Observation
    assert.equal(obs.id, '6', 'the logical id is the first version’s token id')
    assert.equal(obs.meta?.versionId, '2')
    assert.deepEqual(obs.encounter, { reference: 'Encounter/5' })
    assert.deepEqual(obs.subject, { reference: `Patient/${patient}` })
    for (const e of bundle.entry!)
      for (const { reference } of referencesIn(e.resource)) assert.ok(urls.has(`https://x/fhir/${reference}`), reference)
  })

  it('tags the version an amendment replaced', () => {
    const bundle = historyBundle(history, { type: 'collection', ...chain })
    const [, first, second] = bundle.entry!.map((e) => e.resource!)
    assert.ok(first!.meta!.tag!.some((t) => t.code === SUPERSEDED_TAG.code))
    assert.ok(!second!.meta!.tag!.some((t) => t.code === SUPERSEDED_TAG.code))
    assert.equal(first!.id, second!.id)
  })

  it('names entries of a file export by urn:uuid:, and references them so', () => {
    const bundle = historyBundle(history, { type: 'collection', ...chain, includePatient: true })
    const urls = new Set(bundle.entry!.map((e) => e.fullUrl))
    assert.ok([...urls].every((u) => u?.startsWith('urn:uuid:')))
    for (const e of bundle.entry!) for (const { reference } of referencesIn(e.resource)) assert.ok(urls.has(reference), reference)
  })
})
