import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Bundle, Immunization, Patient } from '@medplum/fhirtypes'
import { minimizeBundle, minimizeBundleWithReport, resolveShortReference } from './minimize.js'

function fullBundle(): Bundle {
  return {
    resourceType: 'Bundle',
    id: 'bundle-1',
    meta: { lastUpdated: '2024-01-01T00:00:00Z' },
    type: 'collection',
    entry: [
      {
        fullUrl: 'https://fhir.example.org/Patient/p1',
        resource: {
          resourceType: 'Patient',
          id: 'p1',
          meta: {
            versionId: '3',
            lastUpdated: '2024-01-01T00:00:00Z',
            security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R', display: 'restricted' }],
          },
          text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Jane</div>' },
          name: [{ family: 'Doe', given: ['Jane'], text: 'Jane Doe' }],
          birthDate: '1980-02-03',
        },
      },
      {
        fullUrl: 'urn:uuid:7c1c5e0a-0000-4000-8000-000000000002',
        resource: {
          resourceType: 'Immunization',
          id: 'imm1',
          meta: { versionId: '1', tag: [{ code: 'x' }] },
          text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">dose</div>' },
          status: 'completed',
          vaccineCode: {
            text: 'COVID-19 mRNA',
            coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207', display: 'Moderna COVID-19' }],
          },
          patient: { reference: 'Patient/p1', display: 'Jane' },
          occurrenceDateTime: '2021-01-01',
          performer: [{ actor: { reference: 'https://fhir.example.org/Organization/org1' } }],
          reasonCode: [{ text: 'travel' }],
          extension: [{ url: 'http://example.org/ext', valueCoding: { system: 'http://example.org', code: 'a', display: 'A' } }],
          lotNumber: 'L1',
        },
      },
      {
        fullUrl: 'urn:uuid:7c1c5e0a-0000-4000-8000-000000000003',
        resource: {
          resourceType: 'Immunization',
          id: 'imm2',
          status: 'completed',
          vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }] },
          patient: { reference: 'https://fhir.example.org/Patient/p1' },
          occurrenceDateTime: '2021-02-01',
        },
      },
    ],
  }
}

const patientOf = (b: Bundle) => b.entry![0]!.resource as Patient
const immOf = (b: Bundle, i: number) => b.entry![i]!.resource as Immunization

describe('minimizeBundle (SHC "Health Cards are Compact" rules)', () => {
  const input = fullBundle()
  const snapshot = structuredClone(input)
  const { bundle: out, unresolvedReferences } = minimizeBundleWithReport(input)

  it('does not modify its input', () => {
    assert.deepEqual(input, snapshot)
  })

  it('sets Bundle.entry.fullUrl to resource:0..n', () => {
    assert.deepEqual(
      out.entry!.map((e) => e.fullUrl),
      ['resource:0', 'resource:1', 'resource:2'],
    )
  })

  it('rewrites references between entries (relative, absolute, urn) to resource:N', () => {
    assert.equal(immOf(out, 1).patient.reference, 'resource:0')
    assert.equal(immOf(out, 2).patient.reference, 'resource:0')
    assert.equal(resolveShortReference(out, 'resource:0')?.resourceType, 'Patient')
  })

  it('leaves references outside the bundle and reports them', () => {
    assert.equal(immOf(out, 1).performer![0]!.actor.reference, 'https://fhir.example.org/Organization/org1')
    assert.deepEqual(unresolvedReferences, ['https://fhir.example.org/Organization/org1'])
  })

  it('removes Resource.id, including on the Bundle', () => {
    assert.equal(out.id, undefined)
    for (const e of out.entry!) assert.equal(e.resource!.id, undefined)
  })

  it('removes Resource.meta except meta.security', () => {
    assert.equal(out.meta, undefined)
    assert.deepEqual(Object.keys(patientOf(out).meta!), ['security'])
    assert.equal(immOf(out, 1).meta, undefined)
  })

  it('removes DomainResource.text (narrative)', () => {
    assert.equal(patientOf(out).text, undefined)
    assert.equal(immOf(out, 1).text, undefined)
  })

  it('removes CodeableConcept.text but not other elements named text', () => {
    assert.equal(immOf(out, 1).vaccineCode.text, undefined)
    assert.equal(immOf(out, 1).reasonCode![0]!.text, undefined)
    assert.equal(patientOf(out).name![0]!.text, 'Jane Doe', 'HumanName.text is not CodeableConcept.text')
  })

  it('removes Coding.display everywhere (codings, meta.security, valueCoding)', () => {
    assert.deepEqual(immOf(out, 1).vaccineCode.coding, [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }])
    assert.equal(patientOf(out).meta!.security![0]!.display, undefined)
    assert.equal(immOf(out, 1).extension![0]!.valueCoding!.display, undefined)
  })

  it('keeps clinical content and Reference.display', () => {
    assert.equal(patientOf(out).birthDate, '1980-02-03')
    assert.deepEqual(patientOf(out).name![0]!.given, ['Jane'])
    assert.equal(immOf(out, 1).lotNumber, 'L1')
    assert.equal(immOf(out, 1).patient.display, 'Jane')
  })

  it('is idempotent', () => {
    assert.deepEqual(minimizeBundle(out), out)
  })

  it('keeps ids of contained resources (targets of #id references)', () => {
    const b: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        {
          fullUrl: 'urn:uuid:a',
          resource: {
            resourceType: 'Immunization',
            id: 'x',
            contained: [{ resourceType: 'Organization', id: 'org', name: 'Clinic', meta: { versionId: '2' } }],
            status: 'completed',
            vaccineCode: { coding: [{ code: '207' }] },
            patient: { display: 'p' },
            occurrenceDateTime: '2021',
            performer: [{ actor: { reference: '#org' } }],
          },
        },
      ],
    }
    const m = minimizeBundle(b)
    const imm = immOf(m, 0)
    assert.equal(imm.id, undefined)
    assert.equal(imm.contained![0]!.id, 'org')
    assert.equal(imm.contained![0]!.meta, undefined)
    assert.equal(imm.performer![0]!.actor.reference, '#org')
  })

  it('rejects non-Bundles', () => {
    assert.throws(() => minimizeBundle({ resourceType: 'Patient' } as unknown as Bundle), TypeError)
  })
})
