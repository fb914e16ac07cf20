import type { Bundle, CodeableConcept, Coding, Resource } from '@medplum/fhirtypes'
import { type Category, Sensitivity, parseCategory, requiredSensitivity } from '../core/index.js'

/**
 * The coarse on-chain category and sensitivity flags of a FHIR resource.
 *
 * 1. Security labels (`meta.security`) come first. A sensitive label sets its flag, and the
 *    category becomes the most sensitive labelled one (mental-health > substance-use >
 *    sexual-health > genetic). Labels on contained resources count as well.
 *
 *    | system              | code                                     | flag / category |
 *    |---------------------|------------------------------------------|-----------------|
 *    | v3-ActCode          | PSY, PSYTHPN, MH, BH                     | mental-health   |
 *    | v3-ActCode          | ETH, SUD, ETHUD, OPIOIDUD, ALCUD         | substance-use   |
 *    | v3-ActCode          | HIV, STD, SDV, SEX, MST                  | sexual-health   |
 *    | v3-ActCode          | GDIS                                     | genetic         |
 *    | v3-Confidentiality  | R, V                                     | restricted flag (category unchanged) |
 *    | v3-Confidentiality  | PSY / ETH / HIV, SDV (deprecated codes)  | as the ActCode of the same name |
 *
 *    BH (behavioral health) covers mental health and substance use; it maps to mental-health.
 *    MST (military sexual trauma) is grouped with SDV. ALCUD is not in the R4 ActCode release (its
 *    alcohol code is ETHUD) but is accepted. Other ActCode sensitivity codes (SCA, SICKLE, TBOO,
 *    VIO, ...) have no category here and are ignored. Besides the R4 system URLs, the older
 *    `http://hl7.org/fhir/v3/...` URLs and the OIDs are accepted: failing to see a label is the
 *    dangerous direction.
 *
 * 2. Without a sensitive label, the resource's content decides:
 *
 *    | resource                                      | rule                                   | category      |
 *    |-----------------------------------------------|----------------------------------------|---------------|
 *    | Observation (observation-category)            | laboratory                             | laboratory    |
 *    |                                               | imaging                                | imaging       |
 *    |                                               | vital-signs, exam, social-history,     | clinical-note |
 *    |                                               | survey, procedure, therapy             |               |
 *    |                                               | activity (fitness / device data)       | other         |
 *    |                                               | none of these                          | other         |
 *    | DiagnosticReport (v2-0074 service section)    | GE, CG (genetics, cytogenetics)        | genetic       |
 *    |                                               | LAB, BG, BLB, CH, CP, HM, IMM, MB, MCB,| laboratory    |
 *    |                                               | MYC, OSL, PAR, PAT, SP, SR, TX, URN, VR|               |
 *    |                                               | RAD, IMG, CT, CUS, NMR, NMS, OUS, RUS, | imaging       |
 *    |                                               | RX, VUS, XRC                           |               |
 *    |                                               | (also LOINC LP7839-6 pathology → laboratory, LP29684-5 radiology → imaging, |
 *    |                                               |  observation-category laboratory/imaging) |            |
 *    |                                               | anything else or none (EC, PF, PHY, …) | clinical-note |
 *    | Immunization                                  |                                        | immunization  |
 *    | ImagingStudy                                  |                                        | imaging       |
 *    | Medication, MedicationRequest, -Statement,    |                                        | medication    |
 *    | -Administration, -Dispense                    |                                        |               |
 *    | DocumentReference, Composition                | (the document type is not inspected:   | clinical-note |
 *    |                                               |  labels are the sensitivity signal)    |               |
 *    | Bundle                                        | see below                              |               |
 *    | anything else                                 |                                        | other         |
 *
 *    When several codes apply, the more sensitive / more specific wins
 *    (genetic > laboratory > imaging > clinical-note > other).
 *
 * 3. Bundle: every entry's resource is derived (recursively) and the flags are unioned with the
 *    Bundle's own labels. If any flag is sensitive, the category is the most sensitive one.
 *    Otherwise a `document` Bundle is a clinical-note; any other Bundle takes its entries' category
 *    when they agree (ignoring `other` entries such as Patient or Practitioner), and `other` when
 *    they are mixed.
 *
 * The result always satisfies `(sensitivity & requiredSensitivity(category)) === requiredSensitivity(category)`.
 */

export type DerivedCategory = { category: Category; sensitivity: number }

const ACT_CODE_SYSTEMS = new Set([
  'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  'http://hl7.org/fhir/v3/ActCode',
  'urn:oid:2.16.840.1.113883.5.4',
])
const CONFIDENTIALITY_SYSTEMS = new Set([
  'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  'http://hl7.org/fhir/v3/Confidentiality',
  'urn:oid:2.16.840.1.113883.5.25',
])

const ACT_CODE_FLAGS = new Map<string, number>([
  ['PSY', Sensitivity.mentalHealth],
  ['PSYTHPN', Sensitivity.mentalHealth],
  ['MH', Sensitivity.mentalHealth],
  ['BH', Sensitivity.mentalHealth],
  ['ETH', Sensitivity.substanceUse],
  ['SUD', Sensitivity.substanceUse],
  ['ETHUD', Sensitivity.substanceUse],
  ['OPIOIDUD', Sensitivity.substanceUse],
  ['ALCUD', Sensitivity.substanceUse],
  ['HIV', Sensitivity.sexualHealth],
  ['STD', Sensitivity.sexualHealth],
  ['SDV', Sensitivity.sexualHealth],
  ['SEX', Sensitivity.sexualHealth],
  ['MST', Sensitivity.sexualHealth],
  ['GDIS', Sensitivity.genetic],
])
const CONFIDENTIALITY_FLAGS = new Map<string, number>([
  ['R', Sensitivity.restricted],
  ['V', Sensitivity.restricted],
  ['PSY', Sensitivity.mentalHealth],
  ['ETH', Sensitivity.substanceUse],
  ['HIV', Sensitivity.sexualHealth],
  ['SDV', Sensitivity.sexualHealth],
])

/** Most sensitive first: the category a record gets when it carries several sensitive flags. */
const SENSITIVE_PRIORITY: readonly [Category, number][] = [
  ['mental-health', Sensitivity.mentalHealth],
  ['substance-use', Sensitivity.substanceUse],
  ['sexual-health', Sensitivity.sexualHealth],
  ['genetic', Sensitivity.genetic],
]

/** More sensitive / more specific first, for resources whose codes point to several categories. */
const CONTENT_PRIORITY: readonly Category[] = ['genetic', 'laboratory', 'imaging', 'clinical-note', 'other']

const OBSERVATION_CATEGORY_SYSTEMS = new Set([
  'http://terminology.hl7.org/CodeSystem/observation-category',
  'http://hl7.org/fhir/observation-category',
])
const OBSERVATION_CATEGORIES = new Map<string, Category>([
  ['laboratory', 'laboratory'],
  ['imaging', 'imaging'],
  // Findings a clinician charts at the encounter: part of the clinical record.
  ['vital-signs', 'clinical-note'],
  ['exam', 'clinical-note'],
  ['social-history', 'clinical-note'],
  ['survey', 'clinical-note'],
  ['procedure', 'clinical-note'],
  ['therapy', 'clinical-note'],
  // Physical activity (steps, exercise minutes): mostly device / patient-generated data.
  ['activity', 'other'],
])

const V2_0074_SYSTEMS = new Set(['http://terminology.hl7.org/CodeSystem/v2-0074', 'http://hl7.org/fhir/v2/0074'])
const DIAGNOSTIC_SERVICE_SECTIONS = new Map<string, Category>([
  ...['GE', 'CG'].map((code): [string, Category] => [code, 'genetic']),
  ...['LAB', 'BG', 'BLB', 'CH', 'CP', 'HM', 'IMM', 'MB', 'MCB', 'MYC', 'OSL', 'PAR', 'PAT', 'SP', 'SR', 'TX', 'URN', 'VR'].map(
    (code): [string, Category] => [code, 'laboratory'],
  ),
  ...['RAD', 'IMG', 'CT', 'CUS', 'NMR', 'NMS', 'OUS', 'RUS', 'RX', 'VUS', 'XRC'].map((code): [string, Category] => [code, 'imaging']),
])
const LOINC = 'http://loinc.org'
const LOINC_REPORT_CATEGORIES = new Map<string, Category>([
  ['LP7839-6', 'laboratory'], // Pathology
  ['LP29684-5', 'imaging'], // Radiology
])

const RESOURCE_CATEGORIES = new Map<string, Category>([
  ['Immunization', 'immunization'],
  ['ImagingStudy', 'imaging'],
  ['Medication', 'medication'],
  ['MedicationRequest', 'medication'],
  ['MedicationStatement', 'medication'],
  ['MedicationAdministration', 'medication'],
  ['MedicationDispense', 'medication'],
  ['DocumentReference', 'clinical-note'],
  ['Composition', 'clinical-note'],
])

/** The category and sensitivity flags the resource itself implies. */
export function deriveCategory(resource: Resource): DerivedCategory {
  if (resource.resourceType === 'Bundle') return deriveBundle(resource)
  const content = contentCategory(resource)
  const sensitivity = labelFlags(resource) | requiredSensitivity(content)
  return { category: sensitiveCategory(sensitivity) ?? content, sensitivity }
}

/**
 * The category to record: the derived one, or the one the user gave. A user-given category can
 * only add sensitivity: the flags are the derived flags (labels included) plus the given
 * category's own, so a labelled mental-health note filed as "clinical-note" keeps its
 * mental-health flag.
 */
export function resolveCategory(resource: Resource, given?: string): DerivedCategory {
  const derived = deriveCategory(resource)
  if (given === undefined) return derived
  const category = parseCategory(given)
  return { category, sensitivity: derived.sensitivity | requiredSensitivity(category) }
}

function deriveBundle(bundle: Bundle): DerivedCategory {
  let sensitivity = labelFlags(bundle)
  const entryCategories = new Set<Category>()
  for (const entry of bundle.entry ?? []) {
    if (!entry.resource) continue
    const derived = deriveCategory(entry.resource)
    sensitivity |= derived.sensitivity
    entryCategories.add(derived.category)
  }
  const sensitive = sensitiveCategory(sensitivity)
  if (sensitive) return { category: sensitive, sensitivity }
  if (bundle.type === 'document') return { category: 'clinical-note', sensitivity }
  entryCategories.delete('other')
  const [only] = entryCategories
  return { category: entryCategories.size === 1 && only ? only : 'other', sensitivity }
}

function sensitiveCategory(flags: number): Category | undefined {
  return SENSITIVE_PRIORITY.find(([, flag]) => (flags & flag) !== 0)?.[0]
}

/** Flags from the security labels of the resource and of its contained resources. */
function labelFlags(resource: Resource): number {
  let flags = 0
  for (const label of resource.meta?.security ?? []) {
    if (!label.system || !label.code) continue
    if (ACT_CODE_SYSTEMS.has(label.system)) flags |= ACT_CODE_FLAGS.get(label.code) ?? 0
    else if (CONFIDENTIALITY_SYSTEMS.has(label.system)) flags |= CONFIDENTIALITY_FLAGS.get(label.code) ?? 0
  }
  if ('contained' in resource) {
    for (const contained of resource.contained ?? []) flags |= labelFlags(contained)
  }
  return flags
}

function contentCategory(resource: Resource): Category {
  switch (resource.resourceType) {
    case 'Observation':
      return (
        mostSpecific(codingsOf(resource.category), (c) =>
          c.system && OBSERVATION_CATEGORY_SYSTEMS.has(c.system) ? OBSERVATION_CATEGORIES.get(c.code ?? '') : undefined,
        ) ?? 'other'
      )
    case 'DiagnosticReport':
      return mostSpecific(codingsOf(resource.category), diagnosticReportCategory) ?? 'clinical-note'
    default:
      return RESOURCE_CATEGORIES.get(resource.resourceType) ?? 'other'
  }
}

function diagnosticReportCategory(coding: Coding): Category | undefined {
  const { system, code } = coding
  if (!system || !code) return undefined
  if (V2_0074_SYSTEMS.has(system)) return DIAGNOSTIC_SERVICE_SECTIONS.get(code)
  if (system === LOINC) return LOINC_REPORT_CATEGORIES.get(code)
  if (OBSERVATION_CATEGORY_SYSTEMS.has(system) && (code === 'laboratory' || code === 'imaging')) return code
  return undefined
}

function codingsOf(concepts: CodeableConcept[] | undefined): Coding[] {
  return (concepts ?? []).flatMap((concept) => concept.coding ?? [])
}

function mostSpecific(codings: Coding[], map: (coding: Coding) => Category | undefined): Category | undefined {
  const found = new Set(codings.map(map))
  return CONTENT_PRIORITY.find((category) => found.has(category))
}
