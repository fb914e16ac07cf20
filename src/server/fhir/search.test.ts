import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Observation } from '@medplum/fhirtypes'
import { HttpError } from '../outcomes.js'
import { dateRange, matchesSearch, parseFhirSearch, searchSummary } from './search.js'

const glucose: Observation = {
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
  effectiveDateTime: '2024-03-15T08:30:00Z',
}

const search = (query: string) => parseFhirSearch(new URLSearchParams(query))

describe('FHIR search matching', () => {
  it('reads a date at its own precision', () => {
    assert.deepEqual(dateRange('2024'), { start: Date.UTC(2024, 0, 1), end: Date.UTC(2025, 0, 1) })
    assert.deepEqual(dateRange('2024-02'), { start: Date.UTC(2024, 1, 1), end: Date.UTC(2024, 2, 1) })
    assert.deepEqual(dateRange('2024-02-29'), { start: Date.UTC(2024, 1, 29), end: Date.UTC(2024, 2, 1) })
    assert.equal(dateRange('yesterday'), undefined)
  })

  it('matches date prefixes on the clinical date', () => {
    for (const [q, want] of [
      ['date=2024', true],
      ['date=2024-03', true],
      ['date=2024-04', false],
      ['date=ge2024-03-15', true],
      ['date=gt2024-03-15', false],
      ['date=lt2024-03-15', false],
      ['date=le2024-03-15', true],
      ['date=ne2024', false],
      ['date=ge2024-01-01&date=lt2024-06-01', true],
    ] as const) {
      assert.equal(matchesSearch(glucose, 'laboratory', search(q)), want, q)
    }
  })

  it('matches code with or without a system, and category by medvault category or the resource’s own', () => {
    assert.equal(matchesSearch(glucose, 'laboratory', search('code=2345-7')), true)
    assert.equal(matchesSearch(glucose, 'laboratory', search('code=http://loinc.org|2345-7')), true)
    assert.equal(matchesSearch(glucose, 'laboratory', search('code=http://snomed.info/sct|2345-7')), false)
    assert.equal(matchesSearch(glucose, 'laboratory', search('code=1111-1,2345-7')), true)
    assert.equal(matchesSearch(glucose, 'laboratory', search('category=laboratory')), true)
    assert.equal(matchesSearch(glucose, 'laboratory', search('category=vital-signs')), true)
    assert.equal(matchesSearch(glucose, 'laboratory', search('category=imaging')), false)
  })

  it('refuses a date it cannot read with a 400', () => {
    assert.throws(
      () => search('date=last-week'),
      (e: unknown) => e instanceof HttpError && e.status === 400,
    )
  })

  it("keeps, in a record's search summary, every field a search matches on, and no value", () => {
    const immunization = {
      resourceType: 'Immunization',
      status: 'completed',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
      occurrenceDateTime: '2021-05-02',
      patient: { reference: 'Patient/x' },
    }
    const procedure = {
      resourceType: 'Procedure',
      status: 'completed',
      code: { coding: [{ code: '80146002' }] },
      performedPeriod: { start: '2019-07' },
    }
    const meta = { contentType: 'application/fhir+json' }
    for (const resource of [glucose, immunization, procedure]) {
      const summary = searchSummary({ meta, bytes: Buffer.from(JSON.stringify(resource)) })!
      for (const q of [
        'code=2345-7',
        'code=208',
        'code=80146002',
        'category=vital-signs',
        'category=laboratory',
        'date=2024',
        'date=lt2020',
        'date=ge2021-05',
        'code=http://loinc.org|2345-7&date=2024-03',
      ]) {
        assert.equal(
          matchesSearch(summary, 'laboratory', search(q)),
          matchesSearch(resource as never, 'laboratory', search(q)),
          `${resource.resourceType} ${q}`,
        )
      }
      assert.ok(!('valueQuantity' in summary) && !('patient' in summary))
    }
    assert.deepEqual(searchSummary({ meta: { contentType: 'application/pdf' }, bytes: Buffer.from('%PDF') }), { resourceType: 'Binary' })
  })
})
