import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Bundle, ImagingStudy, Observation, Patient, Resource } from '@medplum/fhirtypes'
import { InvalidInputError } from '../../src/errors.js'
import { syntheticPatientBundle } from '../../src/import/index.js'
import { validateFhirResource } from '../../src/fhir/index.js'
import {
  AGE_GROUP_EXTENSION,
  type DeidResult,
  deidentifyBundle,
  deidentifyResources,
  kAnonymityReport,
  studyPseudonym,
  toNdjson,
} from '../../src/research/deid/index.js'
import { MARIA, type PersonSpec, WALTER, richPatientBundle } from './deidFixtures.js'
import { collectIdentifiers, leaks, outputStrings } from './identifierSearch.js'

const keyOf = (seed: number) => Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + seed) & 0xff)
const MARIA_KEY = keyOf(1)
const WALTER_KEY = keyOf(2)

type Json = Record<string, unknown>

function deid(person: PersonSpec, key: Uint8Array, studyId = 'study-a'): { bundle: Bundle; result: DeidResult; ndjson: string } {
  const bundle = richPatientBundle(person)
  const result = deidentifyBundle(bundle, { pseudonymKey: key, studyId })
  return { bundle, result, ndjson: toNdjson(result.resources) }
}

const byCode = (resources: Resource[], code: string) =>
  resources.find((r) => JSON.stringify((r as Observation).code ?? (r as unknown as Json)['vaccineCode'] ?? null).includes(`"${code}"`))

describe('Safe Harbor de-identification of Synthea-style patients', () => {
  for (const [person, key] of [
    [MARIA, MARIA_KEY],
    [WALTER, WALTER_KEY],
  ] as const) {
    it(`${person.key}: no identifier value of the input is found in the output NDJSON`, () => {
      const { bundle, result, ndjson } = deid(person, key)
      const identifiers = collectIdentifiers(bundle)
      // The collector sees what the fixture planted: a collector that finds nothing would pass vacuously.
      for (const planted of [
        person.given[0],
        person.given[1],
        person.family,
        person.ssn,
        person.phone,
        person.mobile,
        person.fax,
        person.email,
        person.street,
        person.city,
        person.district,
        person.zip,
        person.otherStreet,
        person.otherCity,
        person.otherZip,
        person.mrn,
        person.licence,
        person.passport,
        person.memberId,
        person.deviceSerial,
        person.lot,
        person.hospital,
        person.birthDate,
        'Fenwick-Starling',
        'Port Ellingham',
        `${person.portal}/docs/hp-2019.pdf`,
      ]) {
        assert.ok(identifiers.has(planted), `the collector missed ${planted}`)
      }
      assert.ok(identifiers.size > 120, `only ${identifiers.size} identifier values collected`)
      // Positive control: the same search finds every value in the input itself.
      const inputNdjson = toNdjson(bundle.entry?.map((e) => e.resource as Resource) ?? [])
      assert.deepEqual(
        leaks(identifiers, inputNdjson, outputStrings(bundle.entry?.map((e) => e.resource as Resource) ?? [])).length,
        identifiers.size,
      )

      assert.deepEqual(leaks(identifiers, ndjson, outputStrings(result.resources)), [])
      // Planted inside free text: the note's phone, URL and IP, and the SSN's digits anywhere.
      const digitsOnly = [person.ssn, person.phone, person.mobile, person.fax].map((v) => v.replace(/\D/g, '').replace(/^1(?=\d{10}$)/, ''))
      assert.deepEqual(
        leaks([...digitsOnly, person.ip, person.portal, person.given[0].toUpperCase()], ndjson, outputStrings(result.resources)),
        [],
      )
      // No date keeps a month or day, in any format.
      for (const [what, shape] of [
        ['a date with a month', /\d{4}-\d{2}/],
        ['a US date', /\b\d{1,2}\/\d{1,2}\/\d{2,4}\b/],
        ['a URL other than a code system', /https?:\/\/[^"]*(portal|records|\.example)/],
        ['an IPv4 address (OIDs are longer)', /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])/],
      ] as const) {
        assert.ok(!shape.test(ndjson), `the output holds ${what}`)
      }
    })

    it(`${person.key}: the output is valid FHIR R4 and every reference resolves inside it`, () => {
      const { result } = deid(person, key)
      const byRef = new Set(result.resources.map((r) => `${r.resourceType}/${r.id}`))
      for (const resource of result.resources) {
        validateFhirResource(structuredClone(resource))
        const contained = new Set(((resource as unknown as Json)['contained'] as Resource[] | undefined)?.map((c) => `#${c.id}`) ?? [])
        const visit = (v: unknown) => {
          if (Array.isArray(v)) v.forEach(visit)
          else if (typeof v === 'object' && v !== null) {
            const ref = (v as Json)['reference']
            if (typeof ref === 'string') assert.ok(ref.startsWith('#') ? contained.has(ref) : byRef.has(ref), `dangling ${ref}`)
            Object.values(v).forEach(visit)
          }
        }
        visit(resource)
      }
      // The links that matter for research survive: observations to the patient and their encounter.
      const hr = byCode(result.resources, '8867-4') as Observation
      assert.equal(hr.subject?.reference, `Patient/${result.pseudonym}`)
      assert.ok(hr.encounter?.reference && byRef.has(hr.encounter.reference))
      // Resources kept, and those dropped whole (Provenance).
      assert.ok(!result.resources.some((r) => r.resourceType === 'Provenance'))
      assert.equal(result.resources.length, (richPatientBundle(person).entry?.length ?? 0) - 1)
    })
  }

  it('keeps the clinical content: codes, values, units, reference ranges, interpretation, status, years', () => {
    const { result } = deid(MARIA, MARIA_KEY)
    const hr = byCode(result.resources, '8867-4') as Observation
    assert.deepEqual(hr.valueQuantity, { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' })
    assert.equal(hr.effectiveDateTime, '2019')
    assert.equal(hr.status, 'final')
    assert.equal(hr.category?.[0]?.coding?.[0]?.code, 'vital-signs')
    assert.equal(hr.code.coding?.[0]?.system, 'http://loinc.org')
    assert.equal(hr.code.text, 'Heart rate')
    const a1c = result.resources.find((r) => r.resourceType === 'Observation' && JSON.stringify(r).includes('"4548-4"')) as Observation
    assert.equal(a1c.valueQuantity?.value, 7.9)
    assert.deepEqual(a1c.referenceRange?.[0]?.high, { value: 5.6, unit: '%', system: 'http://unitsofmeasure.org', code: '%' })
    assert.equal(a1c.interpretation?.[0]?.coding?.[0]?.code, 'H')
    const bp = byCode(result.resources, '85354-9') as Observation
    assert.deepEqual(
      bp.component?.map((c) => [c.code.coding?.[0]?.code, c.valueQuantity?.value, c.valueQuantity?.unit]),
      [
        ['8480-6', 128, 'mm[Hg]'],
        ['8462-4', 82, 'mm[Hg]'],
      ],
    )
    assert.equal(bp.note, undefined)
    assert.equal(bp.text, undefined)
    const imm = result.resources.find((r) => r.resourceType === 'Immunization') as unknown as Json
    assert.equal((imm['vaccineCode'] as Json & { coding: Json[] }).coding[0]?.['code'], '140')
    assert.equal(imm['occurrenceDateTime'], '2020')
    assert.equal(imm['lotNumber'], undefined)
    assert.deepEqual(imm['doseQuantity'], { value: 0.5, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' })
    const condition = result.resources.find((r) => r.resourceType === 'Condition') as unknown as Json
    assert.equal(condition['onsetDateTime'], '2012')
    assert.match(JSON.stringify(condition['code']), /"44054006"/)
    const request = result.resources.find((r) => r.resourceType === 'MedicationRequest') as unknown as Json
    assert.match(JSON.stringify(request['contained']), /"860975"/)
    assert.equal((request['medicationReference'] as Json)['reference'], '#c0')
    assert.equal(request['authoredOn'], '2019')
    const patient = result.resources.find((r) => r.resourceType === 'Patient') as Patient
    assert.equal(patient.id, result.pseudonym)
    assert.equal(patient.gender, 'female')
    assert.equal(patient.birthDate, '1961')
    assert.deepEqual(patient.address, [
      { use: 'home', state: 'MA', postalCode: '011', country: 'US', period: { start: '2015' } },
      { use: 'old', state: 'MA', postalCode: '010', country: 'US' },
    ])
    assert.deepEqual(
      patient.extension?.map((e) => e.url.split('/').pop()),
      ['us-core-race', 'us-core-ethnicity', 'us-core-birthsex'],
    )
    assert.equal(patient.maritalStatus?.coding?.[0]?.code, 'M')
    for (const gone of ['name', 'telecom', 'identifier', 'photo', 'contact', 'text', 'meta'] as const)
      assert.equal(patient[gone], undefined, gone)
    const device = result.resources.find((r) => r.resourceType === 'Device') as unknown as Json
    assert.deepEqual(Object.keys(device).sort(), [
      'deviceName',
      'expirationDate',
      'id',
      'manufactureDate',
      'patient',
      'resourceType',
      'status',
      'type',
    ])
    assert.equal(device['manufactureDate'], '2014')
    // DICOM UIDs are mandatory in an ImagingStudy: replaced by pseudonymous 2.25 UIDs, stable within the study.
    const study = result.resources.find((r) => r.resourceType === 'ImagingStudy') as ImagingStudy
    assert.equal(study.started, '2019')
    assert.equal(study.series?.[0]?.modality.code, 'DX')
    assert.match(study.series?.[0]?.uid ?? '', /^2\.25\.\d+$/)
    assert.match(study.series?.[0]?.instance?.[0]?.uid ?? '', /^2\.25\.\d+$/)
    assert.equal(study.series?.[0]?.instance?.[0]?.sopClass.code, '1.2.840.10008.5.1.4.1.1.1.1')
    assert.equal(study.identifier, undefined)
    const doc = result.resources.find((r) => r.resourceType === 'DocumentReference') as unknown as Json
    assert.deepEqual(doc['content'], [
      { attachment: { contentType: 'application/pdf', creation: '2019', size: 48213 } },
      { attachment: { contentType: 'image/png' } },
    ])
  })

  it('groups ages over 89 as 90+ and removes the birth year that tells the age; a restricted ZIP3 becomes 000', () => {
    const { result, ndjson } = deid(WALTER, WALTER_KEY)
    const patient = result.resources.find((r) => r.resourceType === 'Patient') as Patient
    assert.equal(patient.birthDate, undefined)
    assert.deepEqual(patient.extension?.find((e) => e.url === AGE_GROUP_EXTENSION)?.valueAge, {
      value: 90,
      comparator: '>=',
      unit: 'years',
      system: 'http://unitsofmeasure.org',
      code: 'a',
    })
    assert.doesNotMatch(ndjson, /1931/)
    assert.deepEqual(
      patient.address?.map((a) => a.postalCode),
      ['000', '000'],
    )
    const age = byCode(result.resources, '30525-0') as Observation
    assert.deepEqual(age.valueQuantity, { value: 90, comparator: '>=', unit: 'years', system: 'http://unitsofmeasure.org', code: 'a' })
    assert.ok(result.removed.some((r) => r.kind === 'age' && r.path === 'Patient.birthDate'))
    // Maria (63) keeps her age and birth year.
    const maria = deid(MARIA, MARIA_KEY).result
    assert.equal((byCode(maria.resources, '30525-0') as Observation).valueQuantity?.value, 63)
  })

  it('lists what it removed by path and kind, never a value', () => {
    const { bundle, result } = deid(MARIA, MARIA_KEY)
    const kinds = new Set(result.removed.map((r) => r.kind))
    for (const kind of [
      'name',
      'geographic',
      'date',
      'phone',
      'fax',
      'email',
      'ssn',
      'mrn',
      'health-plan',
      'license',
      'device',
      'url',
      'photo',
      'other-id',
      'free-text',
    ]) {
      assert.ok(kinds.has(kind as never), `no removal of kind ${kind}`)
    }
    assert.ok(result.removed.some((r) => r.resourceType === 'Patient' && r.path === 'Patient.identifier[2]' && r.kind === 'ssn'))
    assert.ok(result.removed.some((r) => r.resourceType === 'Patient' && r.path === 'Patient.telecom[2]' && r.kind === 'fax'))
    // The removal list names kinds ("phone"), which the input also holds as codes (ContactPoint.system).
    const values = [...collectIdentifiers(bundle)].filter((v) => !kinds.has(v as never))
    assert.deepEqual(leaks(values, JSON.stringify(result.removed), outputStrings(result.removed as never)), [])
  })

  it('pseudonyms: stable within a study, different across studies and patients, unlinkable ids', () => {
    const a1 = deid(MARIA, MARIA_KEY, 'study-a')
    const a2 = deid(MARIA, MARIA_KEY, 'study-a')
    const b = deid(MARIA, MARIA_KEY, 'study-b')
    assert.equal(a1.ndjson, a2.ndjson)
    assert.equal(a1.result.pseudonym, studyPseudonym(MARIA_KEY, 'study-a'))
    assert.match(a1.result.pseudonym, /^[0-9a-f]{64}$/)
    assert.notEqual(a1.result.pseudonym, b.result.pseudonym)
    assert.notEqual(studyPseudonym(MARIA_KEY, 'study-a'), studyPseudonym(WALTER_KEY, 'study-a'))
    const idsA = new Set(a1.result.resources.map((r) => r.id))
    assert.ok(
      b.result.resources.every((r) => !idsA.has(r.id)),
      'a resource id links two studies',
    )
    assert.equal(idsA.size, a1.result.resources.length)
    // The pseudonym is computed from the key alone: records shared later link to the same patient.
    const later = deidentifyResources(
      [
        {
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'x' },
          subject: { reference: 'Patient/whatever-local-id' },
        } as Observation,
      ],
      { pseudonymKey: MARIA_KEY, studyId: 'study-a' },
    )
    assert.equal((later.resources[0] as Observation).subject?.reference, `Patient/${a1.result.pseudonym}`)
  })

  it('refuses input it cannot de-identify as one patient, and bad keys, without echoing values', () => {
    const two = richPatientBundle(MARIA)
    two.entry?.push(...(richPatientBundle(WALTER).entry ?? []))
    assert.throws(() => deidentifyBundle(two, { pseudonymKey: MARIA_KEY, studyId: 's' }), InvalidInputError)
    const mixed: Resource[] = [
      { resourceType: 'Observation', status: 'final', code: { text: 'a' }, subject: { reference: 'Patient/p1' } },
      { resourceType: 'Observation', status: 'final', code: { text: 'b' }, subject: { reference: 'Patient/p2' } },
    ]
    assert.throws(() => deidentifyResources(mixed, { pseudonymKey: MARIA_KEY, studyId: 's' }), /2 different patients/)
    assert.throws(() => studyPseudonym(new Uint8Array(16), 's'), /32 bytes/)
    assert.throws(() => studyPseudonym(MARIA_KEY, ''), InvalidInputError)
  })

  it('drops unknown extensions and elements, and scrubs identifier shapes from kept text', () => {
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'p',
      name: [{ family: 'Zebulonsky' }],
      gender: 'other',
      extension: [{ url: 'http://example.org/fhir/favourite-colour', valueString: 'teal' }],
    }
    const observation = {
      resourceType: 'Observation',
      id: 'o',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8302-2', display: 'Body height' }], text: 'Height, see https://x.example/a' },
      subject: { reference: 'Patient/p' },
      valueString: 'reviewed by j.doe@example.com',
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }], text: 'ZEBULONSKY family panel' }, valueString: 'Negative' },
      ],
      focus: [{ reference: 'Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999999' }],
    } as unknown as Resource
    const result = deidentifyResources([patient, observation], { pseudonymKey: MARIA_KEY, studyId: 's' })
    const [p, o] = result.resources as [Patient, Observation]
    assert.equal(p.extension, undefined)
    assert.equal(o.code.text, undefined)
    assert.equal(o.code.coding?.[0]?.display, 'Body height')
    assert.equal(o.valueString, undefined)
    // The patient's own surname in a kept text: found because the input holds it.
    assert.deepEqual(o.component, [{ code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] }, valueString: 'Negative' }])
    assert.deepEqual(o.focus, [{ type: 'Practitioner' }])
    assert.deepEqual(
      result.removed.filter((r) => r.resourceType === 'Observation').map((r) => [r.path, r.kind]),
      [
        ['Observation.code.text', 'url'],
        ['Observation.valueString', 'email'],
        ['Observation.component[0].code.text', 'name'],
        ['Observation.focus[0].reference', 'other-id'],
      ],
    )
  })
})

describe("the project's Synthea-shaped generator", () => {
  it('a 300-resource history de-identifies to valid FHIR with no identifier left and every resource kept', () => {
    const bundle = syntheticPatientBundle({ resources: 300, seed: 11 })
    const result = deidentifyBundle(bundle, { pseudonymKey: MARIA_KEY, studyId: 'synthetic' })
    assert.equal(result.resources.length, bundle.entry?.length)
    for (const resource of result.resources) validateFhirResource(structuredClone(resource))
    const identifiers = collectIdentifiers(bundle)
    assert.ok(identifiers.size > 300, `only ${identifiers.size} identifier values collected`)
    assert.deepEqual(leaks(identifiers, toNdjson(result.resources), outputStrings(result.resources)), [])
    const subjects = new Set(
      result.resources.flatMap((r) => ((r as Observation).subject?.reference ? [(r as Observation).subject?.reference] : [])),
    )
    assert.deepEqual([...subjects], [`Patient/${result.pseudonym}`])
  })
})

describe('k-anonymity report', () => {
  /** A de-identified patient with one observation, as deidentifyResources makes them. */
  function person(seed: number, birthDate: string, gender: Patient['gender'], postalCode: string): Resource[] {
    const input: Resource[] = [
      {
        resourceType: 'Patient',
        id: 'p',
        gender,
        birthDate,
        address: [{ use: 'home', postalCode, state: 'XX', country: 'US' }],
      } as Patient,
      { resourceType: 'Observation', status: 'final', code: { text: 'Heart rate' }, subject: { reference: 'Patient/p' } } as Observation,
    ]
    return deidentifyResources(input, { pseudonymKey: keyOf(100 + seed), studyId: 'k' }).resources
  }

  it('counts patients per class of (birth year, sex, ZIP3) and lists the classes under k', () => {
    const dataset = [
      ...person(1, '1980-01-02', 'female', '02139'),
      ...person(2, '1980-07-30', 'female', '02115'),
      ...person(3, '1980-12-31', 'female', '02134'),
      ...person(4, '1980-05-05', 'male', '02139'),
      ...person(5, '1980-06-06', 'male', '02140'),
      ...person(6, '1975-03-03', 'female', '10001'),
      ...person(7, '1920-03-03', 'female', '82301'), // 90+ and a restricted ZIP3
      // A record whose patient's demographics are not in the dataset.
      ...deidentifyResources(
        [{ resourceType: 'Observation', status: 'final', code: { text: 'Weight' }, subject: { reference: 'Patient/q' } } as Observation],
        { pseudonymKey: keyOf(108), studyId: 'k' },
      ).resources,
    ]
    const report = kAnonymityReport(dataset, 3)
    assert.deepEqual(report, {
      k: 3,
      quasiIdentifiers: ['birthYear', 'sex', 'zip3'],
      classes: 5,
      smallestClass: 1,
      records: 15,
      violating: [
        { birthYear: '1975', sex: 'female', zip3: '100', count: 1 },
        { birthYear: '90+', sex: 'female', zip3: '000', count: 1 },
        { birthYear: 'unknown', sex: 'unknown', zip3: 'unknown', count: 1 },
        { birthYear: '1980', sex: 'male', zip3: '021', count: 2 },
      ],
    })
    assert.equal(kAnonymityReport(dataset, 1).violating.length, 0)
    assert.equal(kAnonymityReport(dataset).k, 5)
    assert.deepEqual(kAnonymityReport([], 2), {
      k: 2,
      quasiIdentifiers: ['birthYear', 'sex', 'zip3'],
      classes: 0,
      smallestClass: 0,
      records: 0,
      violating: [],
    })
    assert.throws(() => kAnonymityReport(dataset, 0), InvalidInputError)
  })
})

describe('toNdjson', () => {
  it('writes one resource per line', () => {
    const text = toNdjson([
      { resourceType: 'Patient', id: 'a' },
      { resourceType: 'Patient', id: 'b' },
    ])
    assert.equal(text, '{"resourceType":"Patient","id":"a"}\n{"resourceType":"Patient","id":"b"}\n')
    assert.equal(toNdjson([]), '')
  })
})
