import type { IdentifierKind } from './types.js'

/**
 * What Safe Harbor keeps, as tables over FHIR element paths (the paths of the R4
 * StructureDefinitions, e.g. `Patient.contact`, `Quantity.unit`). The walk removes anything these
 * tables do not keep: a text or URI element is kept only where listed here, so a new or unknown
 * element fails closed.
 */

/** Resources that exist to identify people or record who did what, dropped whole. */
export const DROPPED_RESOURCE_TYPES: ReadonlyMap<string, IdentifierKind> = new Map([
  ['Provenance', 'other-id'],
  ['AuditEvent', 'other-id'],
  ['Binary', 'free-text'],
  ['Person', 'name'],
  ['Linkage', 'other-id'],
  ['Bundle', 'other-id'],
])

/** Complex elements removed whole wherever they occur, whatever their type. */
export const DROPPED_ELEMENTS: ReadonlyMap<string, IdentifierKind> = new Map([
  ['Patient.contact', 'name'],
  ['Patient.photo', 'photo'],
  ['Patient.link', 'other-id'],
  ['Practitioner.photo', 'photo'],
  ['RelatedPerson.photo', 'photo'],
  ['Device.udiCarrier', 'device'],
  ['Location.position', 'geographic'],
])

/** Why a text element that is not kept was removed, where it is more than free text. */
export const TEXT_KINDS: ReadonlyMap<string, IdentifierKind> = new Map([
  ['Organization.name', 'name'],
  ['Organization.alias', 'name'],
  ['Location.name', 'geographic'],
  ['Location.alias', 'geographic'],
  ['Location.description', 'geographic'],
  ['Immunization.lotNumber', 'device'],
  ['Medication.batch.lotNumber', 'device'],
  ['Device.serialNumber', 'device'],
  ['Device.lotNumber', 'device'],
  ['Device.distinctIdentifier', 'device'],
  ['Coverage.subscriberId', 'health-plan'],
  ['Coverage.dependent', 'health-plan'],
  ['Coverage.class.value', 'health-plan'],
  ['Coverage.class.name', 'health-plan'],
  ['Account.name', 'account'],
])

/** Text elements kept (then checked for identifier shapes and the input's own identifiers): coded values' words and units. */
export const KEPT_TEXT: ReadonlySet<string> = new Set([
  'CodeableConcept.text',
  'Coding.display',
  'Coding.version',
  ...['Quantity', 'Age', 'Duration', 'Count', 'Distance'].map((t) => `${t}.unit`),
  'Money.currency',
  'Observation.value[x]',
  'Observation.component.value[x]',
  'Observation.referenceRange.text',
  'SampledData.data',
  'Device.deviceName.name',
  'Device.modelNumber',
  'Device.version.value',
  'Extension.value[x]',
])

/** URI elements kept: terminology systems and reference types. Every other URI (attachments, canonical links) is removed. */
export const KEPT_URI: ReadonlySet<string> = new Set([
  'Coding.system',
  ...['Quantity', 'Age', 'Duration', 'Count', 'Distance'].map((t) => `${t}.system`),
  'Reference.type',
])

/**
 * Extensions that carry demographics or clinical facts and no identifier (checked like any other
 * element). Every other extension is removed: birth place, mother's maiden name, geolocation,
 * and any extension this table does not know.
 */
export const ALLOWED_EXTENSIONS: ReadonlySet<string> = new Set([
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex',
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity',
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-genderIdentity',
  'http://hl7.org/fhir/StructureDefinition/data-absent-reason',
  // Our own 90+ marker (below), so a copy de-identified again keeps its age group.
  'https://medvault.dev/fhir/StructureDefinition/deid-age-group',
])

/** Mandatory DICOM UIDs (an ImagingStudy's series and instances): replaced by pseudonymous UIDs, not removed. */
export const PSEUDONYMISED_UIDS: ReadonlySet<string> = new Set(['ImagingStudy.series.uid', 'ImagingStudy.series.instance.uid'])

/** Marks a Patient whose age is over 89 (Safe Harbor groups them as 90 or older): valueAge `>= 90 a`. */
export const AGE_GROUP_EXTENSION = 'https://medvault.dev/fhir/StructureDefinition/deid-age-group'

/** The kind an unknown extension most likely carries, for the removal list. */
export function extensionKind(url: unknown): IdentifierKind {
  if (typeof url !== 'string') return 'other-id'
  if (/maidenname|patient-name|humanname/i.test(url)) return 'name'
  if (/birthplace|geolocation|address|residence|county|city/i.test(url)) return 'geographic'
  if (/ssn|social-?security/i.test(url)) return 'ssn'
  return 'other-id'
}

/** The kind of an Identifier, from its type (v2 table 0203) or system. */
export function identifierKind(identifier: Record<string, unknown>): IdentifierKind {
  const type = identifier['type'] as { coding?: { code?: unknown }[]; text?: unknown } | undefined
  const codes = (type?.coding ?? []).map((c) => c.code)
  const system = typeof identifier['system'] === 'string' ? identifier['system'] : ''
  if (codes.includes('SS') || /us-ssn|ssn/i.test(system)) return 'ssn'
  if (codes.includes('MR') || codes.includes('MRT')) return 'mrn'
  if (codes.some((c) => c === 'MB' || c === 'MA' || c === 'MC' || c === 'SN' || c === 'NIIP')) return 'health-plan'
  if (codes.includes('AN') || codes.includes('ACSN')) return 'account'
  if (codes.some((c) => c === 'DL' || c === 'PPN' || c === 'LN' || c === 'NPI' || c === 'DEA' || c === 'BCT' || c === 'DR'))
    return 'license'
  if (codes.includes('SNO') || codes.includes('UDI')) return 'device'
  if (/vin|vehicle/i.test(system)) return 'vehicle'
  return 'other-id'
}

/** The kind of a ContactPoint, from its system. */
export function contactPointKind(contactPoint: Record<string, unknown>): IdentifierKind {
  switch (contactPoint['system']) {
    case 'fax':
      return 'fax'
    case 'email':
      return 'email'
    case 'url':
      return 'url'
    case 'other':
      return 'other-id'
    default:
      return 'phone'
  }
}

/** Resources with a birth date the 90+ rule applies to. */
export const PEOPLE_WITH_BIRTH_DATES: ReadonlySet<string> = new Set(['Patient', 'RelatedPerson', 'Practitioner'])
