import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Resource } from '@medplum/fhirtypes'
import { parseImportBundle } from './parseBundle.js'
import { syntheticPatientBundle } from './syntheticBundle.js'

const json = (value: unknown) => JSON.stringify(value)
const codings = (resource: Resource): { system?: string; code?: string }[] => {
  const found: { system?: string; code?: string }[] = []
  const walk = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(walk)
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>
      if (typeof record.system === 'string' && typeof record.code === 'string') found.push({ system: record.system, code: record.code })
      Object.values(record).forEach(walk)
    }
  }
  walk(resource)
  return found
}

describe('syntheticPatientBundle', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    assert.equal(json(syntheticPatientBundle({ resources: 300, seed: 5 })), json(syntheticPatientBundle({ resources: 300, seed: 5 })))
    assert.notEqual(json(syntheticPatientBundle({ resources: 300, seed: 5 })), json(syntheticPatientBundle({ resources: 300, seed: 6 })))
  })

  it('holds one Patient and exactly N other resources, each with its own urn:uuid', () => {
    const bundle = syntheticPatientBundle({ resources: 1000, seed: 1 })
    assert.equal(bundle.type, 'transaction')
    const entries = bundle.entry ?? []
    assert.equal(entries.length, 1001)
    assert.equal(entries[0]?.resource?.resourceType, 'Patient')
    assert.equal(entries.filter((e) => e.resource?.resourceType === 'Patient').length, 1)
    assert.equal(new Set(entries.map((e) => e.fullUrl)).size, 1001)
    for (const e of entries) {
      assert.equal(e.fullUrl, `urn:uuid:${e.resource?.id}`)
      assert.deepEqual(e.request, { method: 'POST', url: e.resource?.resourceType })
    }
  })

  it('mixes the resource types of a Synthea record, coded with LOINC, SNOMED CT, CVX and RxNorm', () => {
    const resources = (syntheticPatientBundle({ resources: 1000, seed: 2 }).entry ?? []).slice(1).map((e) => e.resource!)
    const types = new Map<string, number>()
    for (const r of resources) types.set(r.resourceType, (types.get(r.resourceType) ?? 0) + 1)
    for (const type of ['Observation', 'Condition', 'Immunization', 'Encounter', 'MedicationRequest', 'Procedure', 'DiagnosticReport']) {
      assert.ok((types.get(type) ?? 0) >= 20, `${type}: ${types.get(type)}`)
    }
    const observationCategories = new Set(
      resources
        .filter((r) => r.resourceType === 'Observation')
        .flatMap((r) => (r.category ?? []).flatMap((c) => c.coding?.map((x) => x.code))),
    )
    assert.deepEqual([...observationCategories].sort(), ['laboratory', 'vital-signs'])
    const systems = new Set(resources.flatMap(codings).map((c) => c.system))
    for (const system of [
      'http://loinc.org',
      'http://snomed.info/sct',
      'http://hl7.org/fhir/sid/cvx',
      'http://www.nlm.nih.gov/research/umls/rxnorm',
    ]) {
      assert.ok(systems.has(system), system)
    }
  })

  it('is valid FHIR R4 in every entry, with a few sensitive records, for every Bundle type', () => {
    const parsed = parseImportBundle(
      new TextEncoder().encode(json(syntheticPatientBundle({ resources: 400, seed: 3, sensitiveShare: 0.2 }))),
    )
    assert.equal(parsed.entries.length, 400)
    const categories = new Set(parsed.entries.map((e) => e.category))
    for (const category of [
      'laboratory',
      'vital-signs',
      'condition',
      'procedure',
      'encounter',
      'immunization',
      'medication',
      'mental-health',
      'genetic',
    ]) {
      assert.ok(categories.has(category as never), category)
    }
    for (const type of ['collection', 'batch', 'searchset'] as const) {
      assert.equal(parseImportBundle(new TextEncoder().encode(json(syntheticPatientBundle({ resources: 20, type })))).type, type)
    }
  })
})
