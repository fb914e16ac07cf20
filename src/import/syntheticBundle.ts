/**
 * A synthetic patient history in the shape Synthea exports (a `transaction` Bundle of `urn:uuid:`
 * entries: the Patient, then encounters, vital signs, lab results, conditions, immunizations,
 * prescriptions, procedures and reports), for tests and benchmarks. Deterministic: the same seed
 * and size give the same bytes. Codes are real LOINC, SNOMED CT, CVX and RxNorm codes; every
 * person, date and value is invented.
 */
import type {
  Bundle,
  BundleEntry,
  CodeableConcept,
  Condition,
  DiagnosticReport,
  Encounter,
  Immunization,
  MedicationRequest,
  Observation,
  Patient,
  Procedure,
  Resource,
} from '@medplum/fhirtypes'

export type SyntheticBundleParameters = {
  /** Resources besides the Patient. */
  resources: number
  /** PRNG seed; the same seed gives the same Bundle. */
  seed?: number
  type?: 'transaction' | 'collection' | 'batch' | 'searchset'
  /** Share (0..1) of conditions and reports labelled sensitive (mental health, genetics). Default 0.02. */
  sensitiveShare?: number
}

const LOINC = 'http://loinc.org'
const SNOMED = 'http://snomed.info/sct'
const CVX = 'http://hl7.org/fhir/sid/cvx'
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm'
const UCUM = 'http://unitsofmeasure.org'
const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category'

type Lab = { code: string; display: string; unit: string; low: number; high: number; digits: number }
const LABS: Lab[] = [
  { code: '2339-0', display: 'Glucose [Mass/volume] in Blood', unit: 'mg/dL', low: 70, high: 160, digits: 0 },
  { code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma', unit: 'mg/dL', low: 140, high: 260, digits: 0 },
  { code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', unit: '%', low: 4.5, high: 9, digits: 1 },
  { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL', low: 11, high: 17, digits: 1 },
  { code: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma', unit: 'mg/dL', low: 0.6, high: 1.4, digits: 2 },
  { code: '6690-2', display: 'Leukocytes [#/volume] in Blood by Automated count', unit: '10*3/uL', low: 3.5, high: 11, digits: 1 },
  { code: '2951-2', display: 'Sodium [Moles/volume] in Serum or Plasma', unit: 'mmol/L', low: 134, high: 146, digits: 0 },
  { code: '2823-3', display: 'Potassium [Moles/volume] in Serum or Plasma', unit: 'mmol/L', low: 3.4, high: 5.2, digits: 1 },
]
const VITALS: Lab[] = [
  { code: '8867-4', display: 'Heart rate', unit: '/min', low: 55, high: 100, digits: 0 },
  { code: '9279-1', display: 'Respiratory rate', unit: '/min', low: 12, high: 20, digits: 0 },
  { code: '8310-5', display: 'Body temperature', unit: 'Cel', low: 36.1, high: 37.8, digits: 1 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', low: 55, high: 110, digits: 1 },
  { code: '8302-2', display: 'Body height', unit: 'cm', low: 150, high: 195, digits: 1 },
  { code: '39156-5', display: 'Body mass index (BMI) [Ratio]', unit: 'kg/m2', low: 18, high: 35, digits: 1 },
]
const CONDITIONS: readonly (readonly [code: string, display: string])[] = [
  ['44054006', 'Diabetes mellitus type 2'],
  ['38341003', 'Hypertensive disorder, systemic arterial'],
  ['195662009', 'Acute viral pharyngitis'],
  ['10509002', 'Acute bronchitis'],
  ['40055000', 'Chronic sinusitis'],
  ['271737000', 'Anemia'],
  ['55822004', 'Hyperlipidemia'],
  ['162864005', 'Body mass index 30+ - obesity'],
]
const SENSITIVE_CONDITIONS: readonly (readonly [code: string, display: string])[] = [
  ['35489007', 'Depressive disorder'],
  ['197480006', 'Anxiety disorder'],
]
const VACCINES: readonly (readonly [code: string, display: string])[] = [
  ['140', 'Influenza, seasonal, injectable, preservative free'],
  ['08', 'Hep B, adolescent or pediatric'],
  ['113', 'Td (adult) preservative free'],
  ['115', 'Tdap'],
  ['133', 'Pneumococcal conjugate PCV 13'],
  ['208', 'SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose'],
]
const MEDICATIONS: readonly (readonly [code: string, display: string])[] = [
  ['314076', 'lisinopril 10 MG Oral Tablet'],
  ['860975', '24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet'],
  ['197361', 'Amlodipine 5 MG Oral Tablet'],
  ['310965', 'Ibuprofen 200 MG Oral Tablet'],
  ['313782', 'Acetaminophen 325 MG Oral Tablet'],
  ['617314', 'Atorvastatin 10 MG Oral Tablet'],
]
const PROCEDURES: readonly (readonly [code: string, display: string])[] = [
  ['430193006', 'Medication Reconciliation (procedure)'],
  ['710824005', 'Assessment of health and social care needs (procedure)'],
  ['76601001', 'Intramuscular injection'],
  ['73761001', 'Colonoscopy'],
  ['117015009', 'Throat culture (procedure)'],
]
const ENCOUNTERS: readonly (readonly [code: string, display: string, classCode: string])[] = [
  ['185349003', 'Encounter for check up (procedure)', 'AMB'],
  ['162673000', 'General examination of patient (procedure)', 'AMB'],
  ['50849002', 'Emergency room admission (procedure)', 'EMER'],
  ['185345009', 'Encounter for symptom (procedure)', 'AMB'],
]
const REPORTS: readonly (readonly [code: string, display: string])[] = [
  ['51990-0', 'Basic metabolic panel - Blood'],
  ['58410-2', 'CBC panel - Blood by Automated count'],
  ['57698-3', 'Lipid panel with direct LDL - Serum or Plasma'],
]

/** Share of each kind of resource, roughly as in a Synthea record. */
const MIX: [kind: Kind, weight: number][] = [
  ['lab', 30],
  ['vitals', 22],
  ['blood-pressure', 6],
  ['encounter', 12],
  ['condition', 7],
  ['immunization', 6],
  ['medication', 7],
  ['procedure', 5],
  ['report', 5],
]
type Kind = 'lab' | 'vitals' | 'blood-pressure' | 'encounter' | 'condition' | 'immunization' | 'medication' | 'procedure' | 'report'

/** mulberry32: a small, fast, seedable PRNG (not for secrets). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A Synthea-style Bundle: one Patient and `resources` other resources of mixed types.
 *
 * @example
 * const bundle = syntheticPatientBundle({ resources: 1000, seed: 42 })
 * writeFileSync('alice.json', JSON.stringify(bundle))
 */
export function syntheticPatientBundle(params: SyntheticBundleParameters): Bundle {
  const random = prng(params.seed ?? 1)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
  const between = (low: number, high: number, digits: number) => Number((low + random() * (high - low)).toFixed(digits))
  const uuid = () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[Math.floor(random() * 4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
  }
  const sensitiveShare = params.sensitiveShare ?? 0.02
  const totalWeight = MIX.reduce((sum, [, w]) => sum + w, 0)
  const kind = (): Kind => {
    let r = random() * totalWeight
    for (const [k, w] of MIX) {
      r -= w
      if (r < 0) return k
    }
    return 'lab'
  }

  const patientId = uuid()
  const patientRef = { reference: `urn:uuid:${patientId}` }
  const birth = new Date(Date.UTC(1950 + Math.floor(random() * 50), Math.floor(random() * 12), 1 + Math.floor(random() * 28)))
  const patient: Patient = {
    resourceType: 'Patient',
    id: patientId,
    identifier: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical Record Number' }] },
        system: 'https://example.org/synthetic/mrn',
        value: uuid(),
      },
    ],
    name: [{ use: 'official', family: pick(['Synthia', 'Testwell', 'Examplar']), given: [pick(['Ada', 'Ben', 'Cleo', 'Dev'])] }],
    gender: pick(['female', 'male'] as const),
    birthDate: birth.toISOString().slice(0, 10),
  }

  // Dates run forward from the patient's 18th birthday, a few days apart.
  let time = birth.getTime() + 18 * 365.25 * 86_400_000
  let encounter = { reference: `urn:uuid:${uuid()}` }
  const recentObservations: string[] = []
  const codeable = (system: string, code: string, display: string, text = display): CodeableConcept => ({
    coding: [{ system, code, display }],
    text,
  })
  const observationCategory = (code: string, display: string): CodeableConcept[] => [
    { coding: [{ system: OBSERVATION_CATEGORY, code, display }] },
  ]

  const resources: Resource[] = []
  for (let n = 0; n < params.resources; n++) {
    time += Math.floor(random() * 5 * 86_400_000)
    const at = new Date(time).toISOString()
    const id = uuid()
    const sensitive = random() < sensitiveShare
    switch (kind()) {
      case 'lab':
      case 'vitals': {
        const isLab = random() < 0.58
        const test = pick(isLab ? LABS : VITALS)
        const observation: Observation = {
          resourceType: 'Observation',
          id,
          status: 'final',
          category: isLab ? observationCategory('laboratory', 'laboratory') : observationCategory('vital-signs', 'vital-signs'),
          code: codeable(LOINC, test.code, test.display),
          subject: patientRef,
          encounter,
          effectiveDateTime: at,
          issued: at,
          valueQuantity: { value: between(test.low, test.high, test.digits), unit: test.unit, system: UCUM, code: test.unit },
        }
        recentObservations.push(id)
        resources.push(observation)
        break
      }
      case 'blood-pressure': {
        const observation: Observation = {
          resourceType: 'Observation',
          id,
          status: 'final',
          category: observationCategory('vital-signs', 'vital-signs'),
          code: codeable(LOINC, '85354-9', 'Blood pressure panel with all children optional'),
          subject: patientRef,
          encounter,
          effectiveDateTime: at,
          issued: at,
          component: [
            {
              code: codeable(LOINC, '8462-4', 'Diastolic Blood Pressure'),
              valueQuantity: { value: between(60, 95, 0), unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' },
            },
            {
              code: codeable(LOINC, '8480-6', 'Systolic Blood Pressure'),
              valueQuantity: { value: between(100, 150, 0), unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' },
            },
          ],
        }
        resources.push(observation)
        break
      }
      case 'encounter': {
        const [code, display, classCode] = pick(ENCOUNTERS)
        encounter = { reference: `urn:uuid:${id}` }
        const resource: Encounter = {
          resourceType: 'Encounter',
          id,
          status: 'finished',
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: classCode },
          type: [codeable(SNOMED, code, display)],
          subject: patientRef,
          period: { start: at, end: new Date(time + 30 * 60_000).toISOString() },
        }
        resources.push(resource)
        break
      }
      case 'condition': {
        const [code, display] = pick(sensitive ? SENSITIVE_CONDITIONS : CONDITIONS)
        const condition: Condition = {
          resourceType: 'Condition',
          id,
          ...(sensitive
            ? {
                meta: {
                  security: [
                    {
                      system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
                      code: 'PSY',
                      display: 'psychiatry information sensitivity',
                    },
                  ],
                },
              }
            : {}),
          clinicalStatus: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: pick(['active', 'resolved']) }],
          },
          verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
          category: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/condition-category',
                  code: 'encounter-diagnosis',
                  display: 'Encounter Diagnosis',
                },
              ],
            },
          ],
          code: codeable(SNOMED, code, display),
          subject: patientRef,
          encounter,
          onsetDateTime: at,
          recordedDate: at,
        }
        resources.push(condition)
        break
      }
      case 'immunization': {
        const [code, display] = pick(VACCINES)
        const immunization: Immunization = {
          resourceType: 'Immunization',
          id,
          status: 'completed',
          vaccineCode: codeable(CVX, code, display),
          patient: patientRef,
          encounter,
          occurrenceDateTime: at,
          primarySource: true,
        }
        resources.push(immunization)
        break
      }
      case 'medication': {
        const [code, display] = pick(MEDICATIONS)
        const request: MedicationRequest = {
          resourceType: 'MedicationRequest',
          id,
          status: pick(['active', 'stopped', 'completed'] as const),
          intent: 'order',
          medicationCodeableConcept: codeable(RXNORM, code, display),
          subject: patientRef,
          encounter,
          authoredOn: at,
          dosageInstruction: [{ sequence: 1, text: 'Take as directed', asNeededBoolean: false }],
        }
        resources.push(request)
        break
      }
      case 'procedure': {
        const [code, display] = pick(PROCEDURES)
        const procedure: Procedure = {
          resourceType: 'Procedure',
          id,
          status: 'completed',
          code: codeable(SNOMED, code, display),
          subject: patientRef,
          encounter,
          performedPeriod: { start: at, end: new Date(time + 20 * 60_000).toISOString() },
        }
        resources.push(procedure)
        break
      }
      case 'report': {
        const [code, display] = sensitive ? (['81247-9', 'Master HL7 genetic variant reporting panel'] as const) : pick(REPORTS)
        const report: DiagnosticReport = {
          resourceType: 'DiagnosticReport',
          id,
          status: 'final',
          category: [
            {
              coding: [
                sensitive
                  ? { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'GE', display: 'Genetics' }
                  : { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB', display: 'Laboratory' },
              ],
            },
          ],
          code: codeable(LOINC, code, display),
          subject: patientRef,
          encounter,
          effectiveDateTime: at,
          issued: at,
          result: recentObservations
            .splice(0)
            .slice(-4)
            .map((ref) => ({ reference: `urn:uuid:${ref}` })),
        }
        resources.push(report)
        break
      }
    }
  }

  const type = params.type ?? 'transaction'
  const entry = (resource: Resource): BundleEntry => ({
    fullUrl: `urn:uuid:${resource.id}`,
    resource,
    ...(type === 'transaction' || type === 'batch' ? { request: { method: 'POST' as const, url: resource.resourceType } } : {}),
    ...(type === 'searchset' ? { search: { mode: 'match' as const } } : {}),
  })
  return { resourceType: 'Bundle', type, entry: [patient, ...resources].map(entry) }
}
