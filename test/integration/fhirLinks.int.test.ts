/**
 * Linked histories: Synthea's R4 transaction Bundles (urn:uuid: references between entries)
 * imported on a real chain and blockstore, then served back by `medvault export` (the library
 * calls it makes) and by the FHIR server's $everything and search: every entry has a fullUrl and
 * every reference resolves within the Bundle, or by a read.
 *
 * All six fixtures (1,365 records) are imported and exported through the library; the four
 * smallest are fetched with $everything over HTTP, and search and reads use the two smallest (66
 * and 126 entries). About 110 s on the shared 2-core machine.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Bundle, Observation, Resource } from '@medplum/fhirtypes'
import { Client } from 'fhir-kit-client'
import { authorizeProvider } from '../../src/directory/index.js'
import { referencesIn } from '../../src/fhir/index.js'
import { assembleHistory, historyBundle } from '../../src/history/index.js'
import { importBundle, parseImportBundle } from '../../src/import/index.js'
import { getOnChainRecord } from '../../src/records/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { sessionToken } from './server.js'
import { PASSPHRASE, type TestStack, openTestStack } from './stack.js'

const FIXTURES = '/work/shared/fixtures/synthea'
const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ name: f.split('_').slice(0, 2).join(' '), bytes: readFileSync(join(FIXTURES, f)) }))
  .sort((x, y) => x.bytes.length - y.bytes.length)

/**
 * The references of a Bundle that do not resolve within it (https://hl7.org/fhir/R4/bundle.html#references):
 * a `urn:` or absolute reference names an entry's fullUrl; a relative one resolves against the base
 * of the fullUrl of the entry holding it; `#id` names a contained resource.
 */
export function danglingReferences(bundle: Bundle): string[] {
  const urls = new Set((bundle.entry ?? []).map((e) => e.fullUrl))
  const dangling: string[] = []
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource as Resource & { contained?: Resource[] }
    if (resource.resourceType === 'OperationOutcome') continue
    assert.ok(entry.fullUrl, `${resource.resourceType}/${resource.id} has a fullUrl`)
    const base = entry.fullUrl.endsWith(`/${resource.resourceType}/${resource.id}`)
      ? entry.fullUrl.slice(0, -`/${resource.resourceType}/${resource.id}`.length)
      : undefined
    for (const { reference } of referencesIn(resource)) {
      const absolute = /^[a-z][a-z0-9+.-]*:/i.test(reference) ? reference : base ? `${base}/${reference}` : reference
      if (!urls.has(absolute)) dangling.push(`${resource.resourceType} → ${reference}`)
    }
    const contained = new Set((resource.contained ?? []).map((r) => `#${r.id}`))
    JSON.stringify(resource, (key, value) => {
      if (key === 'reference' && typeof value === 'string' && value.startsWith('#') && !contained.has(value))
        dangling.push(`${resource.resourceType} → ${value}`)
      return value
    })
  }
  return dangling
}

describe('linked histories from real Synthea bundles', () => {
  let s: TestStack
  let server: MedvaultServer
  const a = (name: string) => s.accounts[name]!
  const patients = fixtures.map((_, i) => `p${i}`)
  const imported: { tokenIds: bigint[]; entries: number; seconds: number }[] = []
  let session = ''

  before(async () => {
    s = await openTestStack({ providers: { lab: 'City Lab' }, others: patients })
    for (const [i, fixture] of fixtures.entries()) {
      const patient = a(patients[i]!)
      await authorizeProvider(s.mv, patient, a('lab').address, new Date(Date.now() + 3600_000))
      const started = performance.now()
      const result = await importBundle(s.mv, {
        issuer: a('lab'),
        patient,
        bundle: parseImportBundle(fixture.bytes, { patient: patient.address }),
        journalDir: join(s.home, 'imports'),
      })
      imported.push({
        tokenIds: result.records.map((r) => r.tokenId),
        entries: result.total,
        seconds: (performance.now() - started) / 1000,
      })
    }
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0 })
    session = await sessionToken(server.url, a('p0').chainAccount)
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
  })

  it('export: every entry of each of the six histories has a fullUrl and every reference resolves within the Bundle', async () => {
    for (const [i, fixture] of fixtures.entries()) {
      const patient = a(patients[i]!)
      const records = await Promise.all(imported[i]!.tokenIds.map((t) => getOnChainRecord(s.mv, t)))
      const history = await assembleHistory(s.mv, { patient: patient.address, reader: patient, records })
      const bundle = historyBundle(history, {
        type: 'collection',
        chainId: s.mv.deployment.chainId,
        records: s.mv.deployment.records,
        includePatient: true,
      })
      assert.equal(bundle.entry?.length, imported[i]!.entries + 1, fixture.name)
      assert.deepEqual(danglingReferences(bundle), [], fixture.name)
      const references = bundle.entry!.flatMap((e) => referencesIn(e.resource))
      assert.ok(references.length > imported[i]!.entries, `${fixture.name}: the history is linked`)
    }
  })

  it('an exported history imports again with its links', async () => {
    const patient = a('p0')
    const records = await Promise.all(imported[0]!.tokenIds.map((t) => getOnChainRecord(s.mv, t)))
    const history = await assembleHistory(s.mv, { patient: patient.address, reader: patient, records })
    const exported = historyBundle(history, { type: 'collection', ...s.mv.deployment, includePatient: true })
    const again = parseImportBundle(new TextEncoder().encode(JSON.stringify(exported)), { patient: patient.address })
    const ids = new Set(
      again.entries.map((e) => JSON.parse(Buffer.from(e.content).toString('utf8')) as Resource).map((r) => `${r.resourceType}/${r.id}`),
    )
    for (const entry of again.entries) {
      for (const { reference } of referencesIn(JSON.parse(Buffer.from(entry.content).toString('utf8')))) {
        assert.ok(ids.has(reference) || reference === `Patient/${patient.address}`, reference)
      }
    }
  })

  it('$everything and search over HTTP: fullUrls, references resolving within the Bundle, and by a read', async () => {
    for (const [i, fixture] of fixtures.slice(0, 4).entries()) {
      const patient = a(patients[i]!)
      const token = i === 0 ? session : await sessionToken(server.url, patient.chainAccount)
      const fhir = new Client({ baseUrl: `${server.url}/fhir`, bearerToken: token })
      const everything = (await fhir.request(`Patient/${patient.address}/$everything`)) as unknown as Bundle
      assert.equal(everything.entry?.length, imported[i]!.entries + 1)
      assert.deepEqual(danglingReferences(everything), [], fixture.name)
      if (i >= 2) continue

      // A page of search results links into the whole history: each reference reads.
      const page = (await fhir.search({ resourceType: 'Observation', searchParams: { _count: '5' } })) as unknown as Bundle
      const observation = page.entry![0]!.resource as Observation
      assert.match(observation.encounter!.reference!, /^Encounter\/\d+$/)
      assert.equal(observation.subject!.reference, `Patient/${patient.address}`)
      const encounter = (await fhir.read({ resourceType: 'Encounter', id: observation.encounter!.reference!.split('/')[1]! })) as Resource
      assert.equal(encounter.resourceType, 'Encounter')
      for (const { reference } of referencesIn(encounter)) {
        const [type, id] = reference.split('/')
        const read = (await fhir.read({ resourceType: type!, id: id! })) as Resource
        assert.equal(read.resourceType, type)
      }
    }
  })

  it('reports the import times', () => {
    for (const [i, f] of fixtures.entries())
      console.log(`  ${f.name}: ${imported[i]!.entries} entries imported in ${imported[i]!.seconds.toFixed(1)} s`)
  })
})
