import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Bundle, Coding, DiagnosticReport, DocumentReference, Observation, Resource } from '@medplum/fhirtypes'
import { InvalidInputError } from '../errors.js'
import { type Category, Sensitivity, requiredSensitivity } from '../core/categories.js'
import { type DerivedCategory, deriveCategory, resolveCategory } from './category.js'

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode'
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality'
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category'
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074'
const { mentalHealth, substanceUse, sexualHealth, genetic, restricted } = Sensitivity

const label = (code: string, system = ACT_CODE): Coding => ({ system, code })

function observation(categoryCodes: string[] = [], security: Coding[] = []): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
    ...(categoryCodes.length > 0 ? { category: categoryCodes.map((code) => ({ coding: [{ system: OBS_CATEGORY, code }] })) } : {}),
    ...(security.length > 0 ? { meta: { security } } : {}),
  }
}

function report(coding: Coding[], security: Coding[] = []): DiagnosticReport {
  return {
    resourceType: 'DiagnosticReport',
    status: 'final',
    code: { text: 'report' },
    ...(coding.length > 0 ? { category: [{ coding }] } : {}),
    ...(security.length > 0 ? { meta: { security } } : {}),
  }
}

function documentReference(security: Coding[] = []): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
    content: [{ attachment: { contentType: 'text/plain', data: 'bm90ZQ==' } }],
    ...(security.length > 0 ? { meta: { security } } : {}),
  }
}

const bundle = (resources: Resource[], type: Bundle['type'] = 'collection', security: Coding[] = []): Bundle => ({
  resourceType: 'Bundle',
  type,
  entry: resources.map((resource) => ({ resource })),
  ...(security.length > 0 ? { meta: { security } } : {}),
})

/** Every result must carry at least the flags its category requires. */
function derive(resource: Resource): DerivedCategory {
  const result = deriveCategory(resource)
  const required = requiredSensitivity(result.category)
  assert.equal(result.sensitivity & required, required, `${result.category} must carry its own flag`)
  return result
}

const is = (category: Category, sensitivity = 0): DerivedCategory => ({ category, sensitivity })

describe('deriveCategory: security labels', () => {
  const actCodes: [string, Category, number][] = [
    ['PSY', 'mental-health', mentalHealth],
    ['PSYTHPN', 'mental-health', mentalHealth],
    ['MH', 'mental-health', mentalHealth],
    ['BH', 'mental-health', mentalHealth],
    ['ETH', 'substance-use', substanceUse],
    ['SUD', 'substance-use', substanceUse],
    ['ETHUD', 'substance-use', substanceUse],
    ['OPIOIDUD', 'substance-use', substanceUse],
    ['ALCUD', 'substance-use', substanceUse],
    ['HIV', 'sexual-health', sexualHealth],
    ['STD', 'sexual-health', sexualHealth],
    ['SDV', 'sexual-health', sexualHealth],
    ['SEX', 'sexual-health', sexualHealth],
    ['MST', 'sexual-health', sexualHealth],
    ['GDIS', 'genetic', genetic],
  ]
  for (const [code, category, flag] of actCodes) {
    it(`v3-ActCode ${code} → ${category}, overriding the content category`, () => {
      assert.deepEqual(derive(observation(['laboratory'], [label(code)])), is(category, flag))
    })
  }

  it('v3-Confidentiality R and V set the restricted flag and keep the category', () => {
    assert.deepEqual(derive(observation(['laboratory'], [label('R', CONFIDENTIALITY)])), is('laboratory', restricted))
    assert.deepEqual(derive(observation(['imaging'], [label('V', CONFIDENTIALITY)])), is('imaging', restricted))
    assert.deepEqual(derive(observation(['laboratory'], [label('N', CONFIDENTIALITY)])), is('laboratory'))
    assert.deepEqual(derive(observation(['laboratory'], [label('M', CONFIDENTIALITY)])), is('laboratory'))
  })

  it('the deprecated v3-Confidentiality PSY / ETH / HIV / SDV codes count too', () => {
    assert.deepEqual(derive(observation([], [label('PSY', CONFIDENTIALITY)])), is('mental-health', mentalHealth))
    assert.deepEqual(derive(observation([], [label('ETH', CONFIDENTIALITY)])), is('substance-use', substanceUse))
    assert.deepEqual(derive(observation([], [label('HIV', CONFIDENTIALITY)])), is('sexual-health', sexualHealth))
    assert.deepEqual(derive(observation([], [label('SDV', CONFIDENTIALITY)])), is('sexual-health', sexualHealth))
  })

  it('several labels: every flag is set, the category follows mental > substance > sexual > genetic', () => {
    const all = [label('GDIS'), label('HIV'), label('ETH'), label('PSY'), label('R', CONFIDENTIALITY)]
    assert.deepEqual(derive(observation([], all)), is('mental-health', mentalHealth | substanceUse | sexualHealth | genetic | restricted))
    assert.deepEqual(
      derive(observation([], [label('GDIS'), label('HIV'), label('ETH')])),
      is('substance-use', substanceUse | sexualHealth | genetic),
    )
    assert.deepEqual(derive(observation([], [label('GDIS'), label('STD')])), is('sexual-health', sexualHealth | genetic))
  })

  it('accepts the older system URLs and the OIDs', () => {
    assert.deepEqual(derive(observation([], [label('PSY', 'http://hl7.org/fhir/v3/ActCode')])), is('mental-health', mentalHealth))
    assert.deepEqual(derive(observation([], [label('HIV', 'urn:oid:2.16.840.1.113883.5.4')])), is('sexual-health', sexualHealth))
    assert.deepEqual(derive(observation([], [label('R', 'http://hl7.org/fhir/v3/Confidentiality')])), is('other', restricted))
    assert.deepEqual(derive(observation([], [label('V', 'urn:oid:2.16.840.1.113883.5.25')])), is('other', restricted))
  })

  it('ignores codes from other systems, codes without a system and unmapped ActCodes', () => {
    assert.deepEqual(derive(observation(['laboratory'], [label('PSY', 'http://example.org/labels')])), is('laboratory'))
    assert.deepEqual(derive(observation(['laboratory'], [{ code: 'HIV' }])), is('laboratory'))
    assert.deepEqual(derive(observation(['laboratory'], [label('R')])), is('laboratory'), 'R is a Confidentiality code, not an ActCode')
    assert.deepEqual(derive(observation(['laboratory'], [label('SICKLE'), label('TBOO')])), is('laboratory'))
    assert.deepEqual(derive(observation(['laboratory'], [label('constructor'), label('__proto__')])), is('laboratory'))
  })

  it('labels on contained resources count', () => {
    const withContained: Observation = { ...observation(['laboratory']), contained: [observation([], [label('HIV')])] }
    assert.deepEqual(derive(withContained), is('sexual-health', sexualHealth))
  })
})

describe('deriveCategory: Observation categories', () => {
  const table: [string, Category][] = [
    ['laboratory', 'laboratory'],
    ['imaging', 'imaging'],
    ['vital-signs', 'clinical-note'],
    ['exam', 'clinical-note'],
    ['social-history', 'clinical-note'],
    ['survey', 'clinical-note'],
    ['procedure', 'clinical-note'],
    ['therapy', 'clinical-note'],
    ['activity', 'other'],
  ]
  for (const [code, category] of table) {
    it(`${code} → ${category}`, () => assert.deepEqual(derive(observation([code])), is(category)))
  }

  it('no or unknown category → other', () => {
    assert.deepEqual(derive(observation()), is('other'))
    assert.deepEqual(derive(observation(['sdoh'])), is('other'))
  })

  it('codes from another system are ignored', () => {
    const obs: Observation = { ...observation(), category: [{ coding: [{ system: 'http://example.org', code: 'laboratory' }] }] }
    assert.deepEqual(derive(obs), is('other'))
  })

  it('several categories: the most specific wins', () => {
    assert.deepEqual(derive(observation(['vital-signs', 'laboratory'])), is('laboratory'))
    assert.deepEqual(derive(observation(['activity', 'vital-signs'])), is('clinical-note'))
    assert.deepEqual(derive(observation(['exam', 'imaging'])), is('imaging'))
  })
})

describe('deriveCategory: DiagnosticReport categories', () => {
  const table: [string, Category][] = [
    ['LAB', 'laboratory'],
    ['CH', 'laboratory'],
    ['HM', 'laboratory'],
    ['MB', 'laboratory'],
    ['SP', 'laboratory'],
    ['RAD', 'imaging'],
    ['CT', 'imaging'],
    ['NMR', 'imaging'],
    ['RUS', 'imaging'],
    ['EC', 'clinical-note'],
    ['PF', 'clinical-note'],
    ['PHY', 'clinical-note'],
  ]
  for (const [code, category] of table) {
    it(`v2-0074 ${code} → ${category}`, () => assert.deepEqual(derive(report([{ system: V2_0074, code }])), is(category)))
  }

  it('v2-0074 GE and CG (genetics, cytogenetics) → genetic, with the genetic flag', () => {
    assert.deepEqual(derive(report([{ system: V2_0074, code: 'GE' }])), is('genetic', genetic))
    assert.deepEqual(derive(report([{ system: V2_0074, code: 'CG' }])), is('genetic', genetic))
    assert.deepEqual(
      derive(
        report([
          { system: V2_0074, code: 'LAB' },
          { system: V2_0074, code: 'GE' },
        ]),
      ),
      is('genetic', genetic),
    )
  })

  it('a sensitive label still outranks genetic content, and both flags stay', () => {
    assert.deepEqual(derive(report([{ system: V2_0074, code: 'GE' }], [label('PSY')])), is('mental-health', mentalHealth | genetic))
  })

  it('LOINC report categories and observation-category codes', () => {
    assert.deepEqual(derive(report([{ system: 'http://loinc.org', code: 'LP29684-5' }])), is('imaging'))
    assert.deepEqual(derive(report([{ system: 'http://loinc.org', code: 'LP7839-6' }])), is('laboratory'))
    assert.deepEqual(derive(report([{ system: 'http://loinc.org', code: 'LP29708-2' }])), is('clinical-note'))
    assert.deepEqual(derive(report([{ system: OBS_CATEGORY, code: 'laboratory' }])), is('laboratory'))
  })

  it('no category → clinical-note', () => {
    assert.deepEqual(derive(report([])), is('clinical-note'))
  })
})

describe('deriveCategory: resource types', () => {
  it('Immunization → immunization', () => {
    assert.deepEqual(
      derive({
        resourceType: 'Immunization',
        status: 'completed',
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
        patient: { reference: 'Patient/p1' },
        occurrenceDateTime: '2021-04-12',
      }),
      is('immunization'),
    )
  })

  it('ImagingStudy → imaging', () => {
    assert.deepEqual(derive({ resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' } }), is('imaging'))
  })

  it('Medication resources → medication', () => {
    const medication = { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' }] }
    const subject = { reference: 'Patient/p1' }
    const resources: Resource[] = [
      { resourceType: 'MedicationRequest', status: 'active', intent: 'order', medicationCodeableConcept: medication, subject },
      { resourceType: 'MedicationStatement', status: 'active', medicationCodeableConcept: medication, subject },
      {
        resourceType: 'MedicationAdministration',
        status: 'completed',
        medicationCodeableConcept: medication,
        subject,
        effectiveDateTime: '2024-01-01',
      },
      { resourceType: 'MedicationDispense', status: 'completed', medicationCodeableConcept: medication },
      { resourceType: 'Medication', code: medication },
    ]
    for (const resource of resources) assert.deepEqual(derive(resource), is('medication'), resource.resourceType)
  })

  it('DocumentReference and Composition → clinical-note; the LOINC document type does not make it sensitive', () => {
    assert.deepEqual(derive(documentReference()), is('clinical-note'))
    assert.deepEqual(
      derive({
        resourceType: 'Composition',
        status: 'final',
        type: { text: 'note' },
        date: '2024-01-01',
        author: [{ display: 'Dr' }],
        title: 'Note',
      }),
      is('clinical-note'),
    )
  })

  it('a psychotherapy label on a DocumentReference makes it mental-health', () => {
    assert.deepEqual(
      derive(documentReference([label('PSYTHPN'), label('R', CONFIDENTIALITY)])),
      is('mental-health', mentalHealth | restricted),
    )
  })

  it('anything else → other', () => {
    assert.deepEqual(derive({ resourceType: 'Patient', name: [{ family: 'Doe' }] }), is('other'))
    assert.deepEqual(derive({ resourceType: 'Condition', subject: { reference: 'Patient/p1' } }), is('other'))
    assert.deepEqual(
      derive({ resourceType: 'Condition', subject: { reference: 'Patient/p1' }, meta: { security: [label('ETH')] } }),
      is('substance-use', substanceUse),
    )
  })
})

describe('deriveCategory: Bundle', () => {
  it('takes the most sensitive entry and unions every flag', () => {
    const mixed = bundle([
      observation(['laboratory'], [label('HIV')]),
      documentReference([label('PSY')]),
      report([{ system: V2_0074, code: 'GE' }]),
      observation(['laboratory'], [label('R', CONFIDENTIALITY)]),
    ])
    assert.deepEqual(derive(mixed), is('mental-health', mentalHealth | sexualHealth | genetic | restricted))
  })

  it('one sensitive entry among plain ones makes the whole Bundle sensitive', () => {
    assert.deepEqual(
      derive(bundle([observation(['laboratory']), observation(['laboratory'], [label('ETH')])])),
      is('substance-use', substanceUse),
    )
  })

  it('labels on the Bundle itself count', () => {
    assert.deepEqual(derive(bundle([observation(['laboratory'])], 'collection', [label('SEX')])), is('sexual-health', sexualHealth))
    assert.deepEqual(
      derive(bundle([observation(['laboratory'])], 'collection', [label('V', CONFIDENTIALITY)])),
      is('laboratory', restricted),
    )
  })

  it('entries that agree give their category; Patient and other "other" entries do not dilute it', () => {
    const patient: Resource = { resourceType: 'Patient', id: 'p1' }
    assert.deepEqual(
      derive(bundle([report([{ system: V2_0074, code: 'LAB' }]), observation(['laboratory']), patient], 'transaction')),
      is('laboratory'),
    )
  })

  it('entries that disagree give other, except a document, which is a clinical-note', () => {
    const immunization: Resource = {
      resourceType: 'Immunization',
      status: 'completed',
      vaccineCode: { text: 'flu' },
      patient: { reference: 'Patient/p1' },
      occurrenceDateTime: '2023-10-01',
    }
    assert.deepEqual(derive(bundle([observation(['laboratory']), immunization])), is('other'))
    assert.deepEqual(derive(bundle([observation(['laboratory']), immunization], 'document')), is('clinical-note'))
  })

  it('empty Bundles and nested Bundles', () => {
    assert.deepEqual(derive(bundle([])), is('other'))
    assert.deepEqual(derive({ resourceType: 'Bundle', type: 'collection' }), is('other'))
    assert.deepEqual(derive(bundle([bundle([observation([], [label('GDIS')])])])), is('genetic', genetic))
  })
})

describe('resolveCategory', () => {
  it('without a given category, returns the derived one', () => {
    const labelled = observation(['laboratory'], [label('HIV')])
    assert.deepEqual(resolveCategory(labelled), deriveCategory(labelled))
    assert.deepEqual(resolveCategory(observation(['laboratory'])), is('laboratory'))
  })

  it('a user can make a record more sensitive', () => {
    assert.deepEqual(resolveCategory(observation(['laboratory']), 'genetic'), is('genetic', genetic))
    assert.deepEqual(
      resolveCategory(observation(['laboratory'], [label('R', CONFIDENTIALITY)]), 'mental-health'),
      is('mental-health', mentalHealth | restricted),
    )
  })

  it('a user-given category never drops the flags the labels imply', () => {
    assert.deepEqual(resolveCategory(documentReference([label('PSYTHPN')]), 'clinical-note'), is('clinical-note', mentalHealth))
    assert.deepEqual(resolveCategory(observation([], [label('HIV')]), 'genetic'), is('genetic', sexualHealth | genetic))
    assert.deepEqual(resolveCategory(report([{ system: V2_0074, code: 'GE' }]), 'laboratory'), is('laboratory', genetic))
  })

  it('rejects an unknown category', () => {
    assert.throws(() => resolveCategory(observation(), 'psychiatry'), InvalidInputError)
  })
})
