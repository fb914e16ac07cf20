/**
 * Rich, Synthea-style patient histories for the de-identification tests: every kind of identifier
 * Safe Harbor names appears somewhere (names with prefixes and suffixes, several addresses, phone,
 * fax, email, SSN, MRN, driver's licence, passport, insurance member ids, device serial and lot
 * numbers, photos, URLs and IPs in notes, narrative repeating the name), next to the clinical
 * content that must survive (LOINC, SNOMED, CVX, RxNorm codes, values, units, years). Every person,
 * number and place is invented.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes'

export type PersonSpec = {
  key: string
  given: [string, string]
  family: string
  prefix: string
  suffix: string
  gender: 'male' | 'female'
  birthDate: string
  ssn: string
  phone: string
  mobile: string
  fax: string
  email: string
  street: string
  city: string
  district: string
  state: string
  zip: string
  otherStreet: string
  otherCity: string
  otherZip: string
  mrn: string
  licence: string
  passport: string
  memberId: string
  deviceSerial: string
  lot: string
  doctor: [string, string]
  hospital: string
  ip: string
  portal: string
}

export const MARIA: PersonSpec = {
  key: 'maria',
  given: ['Mariquita', 'Elowen'],
  family: 'Okonkwo-Baptiste',
  prefix: 'Mrs.',
  suffix: 'PhD',
  gender: 'female',
  birthDate: '1961-04-17',
  ssn: '999-12-3456',
  phone: '555-867-5309',
  mobile: '+1 617 555 0142',
  fax: '(555) 201-7788',
  email: 'mariquita.okonkwo@example.org',
  street: '742 Evergreen Terrace',
  city: 'Quabbinsville',
  district: 'Hampden County',
  state: 'MA',
  zip: '01103',
  otherStreet: '18 Larkspur Lane',
  otherCity: 'Westmorrow',
  otherZip: '01060-2231',
  mrn: 'MRN-00417723',
  licence: 'S99912345',
  passport: 'X48817263',
  memberId: 'MBR-77812345',
  deviceSerial: 'SN-4471-99821',
  lot: 'LOT8823XK',
  doctor: ['Gregorius', 'Thistlewood'],
  hospital: 'Quabbinsville General Hospital',
  ip: '192.168.41.207',
  portal: 'https://portal.quabbinsville-gh.example/patients/88123',
}

/** Over 89 (born 1931) and living in a restricted ZIP3 (823, Wyoming). */
export const WALTER: PersonSpec = {
  key: 'walter',
  given: ['Walderich', 'Abernathy'],
  family: 'Quisenberry',
  prefix: 'Mr.',
  suffix: 'Sr.',
  gender: 'male',
  birthDate: '1931-02-03',
  ssn: '999-45-6789',
  phone: '307-555-0199',
  mobile: '307.555.0123',
  fax: '307-555-0177',
  email: 'w.quisenberry@mail.example.net',
  street: '3 Sagebrush Road',
  city: 'Rawlinsburg',
  district: 'Carbon County',
  state: 'WY',
  zip: '82301',
  otherStreet: 'PO Box 4412',
  otherCity: 'Sinclairton',
  otherZip: '82334',
  mrn: 'MRN-55120931',
  licence: 'WY-113-224-7',
  passport: 'Z90113377',
  memberId: 'MCR-1EG4TE5MK73',
  deviceSerial: 'SN-PM-2207-3318',
  lot: 'LOTW7711QZ',
  doctor: ['Hortensia', 'Vandermolen'],
  hospital: 'Carbon Valley Memorial',
  ip: '10.20.30.44',
  portal: 'http://records.carbonvalley.example/chart?id=55120931',
}

const LOINC = 'http://loinc.org'
const SNOMED = 'http://snomed.info/sct'
const CVX = 'http://hl7.org/fhir/sid/cvx'
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm'
const UCUM = 'http://unitsofmeasure.org'
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203'
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition'

const uuid = (p: PersonSpec, n: number) =>
  `${p.key
    .padEnd(8, '0')
    .slice(0, 8)
    .replace(/[^0-9a-f]/g, 'a')}-1111-4222-8333-${String(n).padStart(12, '0')}`
const b64 = (text: string) => Buffer.from(text).toString('base64')

/** One patient's history as a Synthea-style transaction Bundle of urn:uuid entries. */
export function richPatientBundle(p: PersonSpec): Bundle {
  const fullName = `${p.given[0]} ${p.family}`
  const doctorName = `Dr. ${p.doctor[0]} ${p.doctor[1]}`
  const ids = {
    patient: uuid(p, 1),
    practitioner: uuid(p, 2),
    organization: uuid(p, 3),
    location: uuid(p, 4),
    encounter: uuid(p, 5),
    coverage: uuid(p, 6),
    device: uuid(p, 7),
  }
  const ref = (id: string) => `urn:uuid:${id}`
  const patientRef = { reference: ref(ids.patient), display: fullName }
  const resources: Resource[] = []
  let n = 100
  const next = () => uuid(p, n++)

  resources.push({
    resourceType: 'Patient',
    id: ids.patient,
    meta: { versionId: '3', lastUpdated: '2024-03-02T10:11:12.000Z', source: `#${p.key}-import`, profile: [`${US_CORE}/us-core-patient`] },
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${fullName}, born ${p.birthDate}, ${p.street}</div>` },
    extension: [
      {
        url: `${US_CORE}/us-core-race`,
        extension: [
          { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2106-3', display: 'White' } },
          { url: 'text', valueString: 'White' },
        ],
      },
      {
        url: `${US_CORE}/us-core-ethnicity`,
        extension: [
          {
            url: 'ombCategory',
            valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2186-5', display: 'Not Hispanic or Latino' },
          },
          { url: 'text', valueString: 'Not Hispanic or Latino' },
        ],
      },
      { url: `${US_CORE}/us-core-birthsex`, valueCode: p.gender === 'female' ? 'F' : 'M' },
      { url: 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName', valueString: 'Fenwick-Starling' },
      {
        url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
        valueAddress: { city: 'Port Ellingham', state: 'ME', country: 'US' },
      },
      { url: 'http://synthetichealth.github.io/synthea/disability-adjusted-life-years', valueDecimal: 0.7312 },
    ],
    identifier: [
      { system: 'https://github.com/synthetichealth/synthea', value: ids.patient },
      {
        type: { coding: [{ system: V2_0203, code: 'MR', display: 'Medical Record Number' }], text: 'Medical Record Number' },
        system: 'http://hospital.smarthealthit.org',
        value: p.mrn,
      },
      {
        type: { coding: [{ system: V2_0203, code: 'SS', display: 'Social Security Number' }], text: 'Social Security Number' },
        system: 'http://hl7.org/fhir/sid/us-ssn',
        value: p.ssn,
      },
      {
        type: { coding: [{ system: V2_0203, code: 'DL', display: "Driver's License" }], text: "Driver's License" },
        system: 'urn:oid:2.16.840.1.113883.4.3.25',
        value: p.licence,
      },
      {
        type: { coding: [{ system: V2_0203, code: 'PPN', display: 'Passport Number' }], text: 'Passport Number' },
        system: 'http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber',
        value: p.passport,
      },
    ],
    name: [
      { use: 'official', prefix: [p.prefix], given: [...p.given], family: p.family, suffix: [p.suffix] },
      { use: 'maiden', given: [p.given[0]], family: 'Fenwick-Starling' },
      { use: 'nickname', text: `${p.given[0].slice(0, 4)}ie` },
    ],
    telecom: [
      { system: 'phone', value: p.phone, use: 'home' },
      { system: 'phone', value: p.mobile, use: 'mobile' },
      { system: 'fax', value: p.fax, use: 'work' },
      { system: 'email', value: p.email },
    ],
    gender: p.gender,
    birthDate: p.birthDate,
    address: [
      {
        use: 'home',
        line: [p.street, 'Apt 3B'],
        city: p.city,
        district: p.district,
        state: p.state,
        postalCode: p.zip,
        country: 'US',
        period: { start: '2015-09-01' },
        extension: [
          {
            url: 'http://hl7.org/fhir/StructureDefinition/geolocation',
            extension: [
              { url: 'latitude', valueDecimal: 42.101483 },
              { url: 'longitude', valueDecimal: -72.589811 },
            ],
          },
        ],
      },
      { use: 'old', line: [p.otherStreet], city: p.otherCity, state: p.state, postalCode: p.otherZip, country: 'US' },
    ],
    maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M', display: 'Married' }] },
    multipleBirthBoolean: false,
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en-US', display: 'English (United States)' }] } }],
    contact: [
      {
        relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'N' }] }],
        name: { given: ['Bartholomew'], family: 'Okafor-Lindqvist' },
        telecom: [{ system: 'phone', value: '555-443-2190' }],
        address: { line: ['90 Juniper Court'], city: 'Brackenridge', state: p.state, postalCode: '01230' },
      },
    ],
    photo: [
      { contentType: 'image/jpeg', data: b64(`JPEG face of ${fullName}`), url: `${p.portal}/photo.jpg`, title: `${fullName} portrait` },
    ],
    generalPractitioner: [{ reference: ref(ids.practitioner), display: doctorName }],
    managingOrganization: { reference: ref(ids.organization), display: p.hospital },
  })

  resources.push({
    resourceType: 'Practitioner',
    id: ids.practitioner,
    identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: `99${p.mrn.replace(/\D/g, '').slice(0, 8)}` }],
    name: [{ prefix: ['Dr.'], given: [p.doctor[0]], family: p.doctor[1] }],
    telecom: [{ system: 'email', value: `${p.doctor[1].toLowerCase()}@${p.key}-clinic.example` }],
    address: [{ line: ['1 Medical Plaza'], city: p.city, state: p.state, postalCode: p.zip, country: 'US' }],
    gender: 'female',
  })
  resources.push({
    resourceType: 'Organization',
    id: ids.organization,
    identifier: [{ system: 'https://github.com/synthetichealth/synthea', value: `org-${p.key}-7781` }],
    active: true,
    type: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov', display: 'Healthcare Provider' }] },
    ],
    name: p.hospital,
    telecom: [{ system: 'phone', value: '555-010-4477' }],
    address: [{ line: ['1 Medical Plaza'], city: p.city, state: p.state, postalCode: p.zip, country: 'US' }],
  })
  resources.push({
    resourceType: 'Location',
    id: ids.location,
    status: 'active',
    name: `${p.hospital} East Wing`,
    address: { line: ['1 Medical Plaza'], city: p.city, state: p.state, postalCode: p.zip, country: 'US' },
    position: { longitude: -72.5811, latitude: 42.1043 },
    managingOrganization: { reference: ref(ids.organization), display: p.hospital },
  })
  resources.push({
    resourceType: 'Coverage',
    id: ids.coverage,
    status: 'active',
    identifier: [{ type: { coding: [{ system: V2_0203, code: 'MB' }] }, system: 'http://payer.example/member', value: p.memberId }],
    subscriberId: p.memberId,
    beneficiary: patientRef,
    relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self' }] },
    period: { start: '2018-01-01', end: '2025-12-31' },
    payor: [{ reference: ref(ids.organization), display: p.hospital }],
    class: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'group' }] },
        value: `GRP-${p.mrn.slice(-5)}`,
        name: `${p.family} family plan`,
      },
    ],
  })
  resources.push({
    resourceType: 'Encounter',
    id: ids.encounter,
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">Visit of ${fullName} with ${doctorName}</div>` },
    identifier: [{ system: 'http://hospital.example/visit', value: `V-${p.mrn}-01` }],
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    type: [
      { coding: [{ system: SNOMED, code: '185349003', display: 'Encounter for check up (procedure)' }], text: 'Encounter for check up' },
    ],
    subject: patientRef,
    participant: [
      { individual: { reference: ref(ids.practitioner), display: doctorName }, period: { start: '2019-06-14T09:00:00-04:00' } },
    ],
    period: { start: '2019-06-14T09:00:00-04:00', end: '2019-06-14T09:45:00-04:00' },
    reasonCode: [{ coding: [{ system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2' }] }],
    location: [{ location: { reference: ref(ids.location), display: `${p.hospital} East Wing` } }],
    serviceProvider: { reference: ref(ids.organization), display: p.hospital },
  })
  const encounterRef = { reference: ref(ids.encounter) }
  const vital = (code: string, display: string, value: number, unit: string, when: string): Resource => ({
    resourceType: 'Observation',
    id: next(),
    meta: { profile: [`${US_CORE}/us-core-vital-signs`] },
    status: 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'vital-signs' }] },
    ],
    code: { coding: [{ system: LOINC, code, display }], text: display },
    subject: patientRef,
    encounter: encounterRef,
    effectiveDateTime: when,
    issued: '2019-06-14T10:02:31.418-04:00',
    performer: [{ reference: ref(ids.practitioner), display: doctorName }],
    valueQuantity: { value, unit, system: UCUM, code: unit },
  })
  resources.push(vital('8867-4', 'Heart rate', 72, '/min', '2019-06-14T09:30:00-04:00'))
  resources.push(vital('29463-7', 'Body weight', 68.4, 'kg', '2019-06-14T09:31:00-04:00'))
  resources.push({
    resourceType: 'Observation',
    id: next(),
    text: {
      status: 'generated',
      div: `<div xmlns="http://www.w3.org/1999/xhtml">Blood pressure of ${fullName} (MRN ${p.mrn}) on 14 June 2019</div>`,
    },
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' }] },
    subject: patientRef,
    effectiveDateTime: '2019-06-14T09:32:00-04:00',
    component: [
      {
        code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] },
        valueQuantity: { value: 128, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' },
      },
      {
        code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] },
        valueQuantity: { value: 82, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' },
      },
    ],
    note: [
      {
        authorString: doctorName,
        time: '2019-06-14T09:40:00-04:00',
        text: `Called ${p.given[0]} at ${p.phone}; results posted to ${p.portal}, uploaded from ${p.ip}.`,
      },
    ],
  })
  resources.push({
    resourceType: 'Observation',
    id: next(),
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' }] },
    subject: patientRef,
    encounter: encounterRef,
    effectiveDateTime: '2019-06-14T09:35:00-04:00',
    valueQuantity: { value: 7.9, unit: '%', system: UCUM, code: '%' },
    interpretation: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H', display: 'High' }] },
    ],
    referenceRange: [{ low: { value: 4, unit: '%', system: UCUM, code: '%' }, high: { value: 5.6, unit: '%', system: UCUM, code: '%' } }],
    specimen: { identifier: { system: 'http://lab.example/specimen', value: `SPC-${p.mrn}` } },
  })
  resources.push({
    resourceType: 'Observation',
    id: next(),
    status: 'final',
    code: { coding: [{ system: LOINC, code: '30525-0', display: 'Age' }] },
    subject: patientRef,
    effectiveDateTime: '2024-05-20',
    valueQuantity: { value: 2024 - Number(p.birthDate.slice(0, 4)), unit: 'years', system: UCUM, code: 'a' },
  })
  resources.push({
    resourceType: 'Condition',
    id: next(),
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
    code: { coding: [{ system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2' }], text: 'Diabetes mellitus type 2' },
    subject: patientRef,
    encounter: encounterRef,
    onsetDateTime: '2012-11-03T08:15:00-05:00',
    recordedDate: '2012-11-05',
    recorder: { reference: ref(ids.practitioner), display: doctorName },
  })
  resources.push({
    resourceType: 'Immunization',
    id: next(),
    status: 'completed',
    vaccineCode: { coding: [{ system: CVX, code: '140', display: 'Influenza, seasonal, injectable, preservative free' }] },
    patient: patientRef,
    encounter: encounterRef,
    occurrenceDateTime: '2020-10-02T11:20:00-04:00',
    recorded: '2020-10-02',
    primarySource: true,
    location: { reference: ref(ids.location), display: `${p.hospital} East Wing` },
    lotNumber: p.lot,
    expirationDate: '2021-06-30',
    doseQuantity: { value: 0.5, unit: 'mL', system: UCUM, code: 'mL' },
    performer: [{ actor: { reference: ref(ids.practitioner), display: doctorName } }],
  })
  const medicationId = next()
  resources.push({
    resourceType: 'MedicationRequest',
    id: medicationId,
    contained: [
      {
        resourceType: 'Medication',
        id: 'med1',
        code: {
          coding: [{ system: RXNORM, code: '860975', display: '24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet' }],
        },
        batch: { lotNumber: `${p.lot}-M`, expirationDate: '2021-01-31' },
      },
    ],
    status: 'active',
    intent: 'order',
    medicationReference: { reference: '#med1' },
    subject: patientRef,
    encounter: encounterRef,
    authoredOn: '2019-06-14T09:44:00-04:00',
    requester: { reference: ref(ids.practitioner), display: doctorName },
    dosageInstruction: [
      {
        sequence: 1,
        text: `Take one tablet daily; ${p.given[0]} to call ${p.mobile} if dizzy`,
        timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [{ doseQuantity: { value: 1, unit: 'tablet', system: UCUM, code: '{tbl}' } }],
      },
    ],
  })
  resources.push({
    resourceType: 'Procedure',
    id: next(),
    status: 'completed',
    code: { coding: [{ system: SNOMED, code: '430193006', display: 'Medication Reconciliation (procedure)' }] },
    subject: patientRef,
    encounter: encounterRef,
    performedPeriod: { start: '2019-06-14T09:40:00-04:00', end: '2019-06-14T09:44:00-04:00' },
    location: { reference: ref(ids.location) },
  })
  resources.push({
    resourceType: 'DiagnosticReport',
    id: next(),
    status: 'final',
    code: { coding: [{ system: LOINC, code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' }] },
    subject: patientRef,
    effectiveDateTime: '2019-06-14T09:35:00-04:00',
    issued: '2019-06-14T12:00:00.000-04:00',
    performer: [{ reference: ref(ids.organization), display: p.hospital }],
    conclusion: `${fullName}: A1c above target; discussed with ${doctorName}.`,
    presentedForm: [{ contentType: 'text/plain', data: b64(`Report for ${fullName}, SSN ${p.ssn}`) }],
  })
  resources.push({
    resourceType: 'DocumentReference',
    id: next(),
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:uuid:${uuid(p, 999)}` }],
    status: 'current',
    type: { coding: [{ system: LOINC, code: '34117-2', display: 'History and physical note' }] },
    subject: patientRef,
    date: '2019-06-14T13:00:00.000-04:00',
    author: [{ reference: ref(ids.practitioner), display: doctorName }],
    description: `H&P for ${fullName}`,
    content: [
      {
        attachment: {
          contentType: 'application/pdf',
          url: `${p.portal}/docs/hp-2019.pdf`,
          title: `${fullName} H&P`,
          creation: '2019-06-14T12:58:00-04:00',
          size: 48213,
          hash: b64('0123456789abcdef0123'),
        },
      },
      { attachment: { contentType: 'image/png', data: b64(`PNG face photo of ${fullName}`), title: 'Patient photo' } },
    ],
    context: { encounter: [encounterRef], period: { start: '2019-06-14T09:00:00-04:00', end: '2019-06-14T09:45:00-04:00' } },
  })
  resources.push({
    resourceType: 'Device',
    id: ids.device,
    udiCarrier: [{ deviceIdentifier: '00844588003288', carrierHRF: `(01)00844588003288(17)141120(10)7654321D(21)${p.deviceSerial}` }],
    status: 'active',
    distinctIdentifier: `DI-${p.deviceSerial}`,
    manufacturer: 'Acme Cardiac',
    manufactureDate: '2014-11-20',
    expirationDate: '2029-11-20',
    lotNumber: `${p.lot}-D`,
    serialNumber: p.deviceSerial,
    deviceName: [{ name: 'Implantable cardiac pacemaker', type: 'user-friendly-name' }],
    type: { coding: [{ system: SNOMED, code: '14106009', display: 'Cardiac pacemaker, device (physical object)' }] },
    patient: { reference: ref(ids.patient) },
    url: `${p.portal}/device`,
  })
  const dicom = `1.2.840.99999999.${p.mrn.replace(/\D/g, '')}`
  resources.push({
    resourceType: 'ImagingStudy',
    id: next(),
    identifier: [{ use: 'official', system: 'urn:ietf:rfc:3986', value: `urn:oid:${dicom}` }],
    status: 'available',
    subject: patientRef,
    encounter: encounterRef,
    started: '2019-06-14T09:50:00-04:00',
    numberOfSeries: 1,
    numberOfInstances: 1,
    procedureCode: [{ coding: [{ system: SNOMED, code: '399208008', display: 'Plain chest X-ray' }] }],
    series: [
      {
        uid: `${dicom}.1`,
        number: 1,
        modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'DX', display: 'Digital Radiography' },
        numberOfInstances: 1,
        bodySite: { system: SNOMED, code: '51185008', display: 'Thoracic structure' },
        started: '2019-06-14T09:50:00-04:00',
        instance: [{ uid: `${dicom}.1.1`, sopClass: { system: 'urn:ietf:rfc:3986', code: '1.2.840.10008.5.1.4.1.1.1.1' }, number: 1 }],
      },
    ],
  })
  resources.push({
    resourceType: 'Provenance',
    id: next(),
    target: [{ reference: ref(ids.encounter) }],
    recorded: '2019-06-14T13:05:00.000-04:00',
    agent: [{ who: { reference: ref(ids.practitioner), display: doctorName } }],
  })

  const entry: BundleEntry[] = resources.map((resource) => ({
    fullUrl: `urn:uuid:${resource.id}`,
    resource,
    request: { method: 'POST', url: resource.resourceType },
  }))
  return { resourceType: 'Bundle', type: 'transaction', entry }
}
