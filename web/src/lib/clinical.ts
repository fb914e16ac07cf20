/**
 * What a patient needs from a record to find it: when it happened (the clinical date, not the
 * day it was added), a title in the record's own words, a category they recognise, and the visit
 * it belongs to. Read from the decrypted FHIR R4 resource, by resource type.
 * https://hl7.org/fhir/R4/resourcelist.html
 */
import type { CodeableConcept, Period, Reference, Resource } from '@medplum/fhirtypes'

export type ClinicalFacts = {
  /** ISO date-time the care happened (or started), when the resource says. */
  date?: string | undefined
  /** The record's own display text, cleaned for a person. */
  title?: string | undefined
  /** A category a patient recognises, inferred from the resource when the chain says only "other". */
  category?: string | undefined
  /** This resource's own id (an Encounter's, for grouping). */
  id?: string | undefined
  /** The id of the visit (Encounter) the record belongs to. */
  encounter?: string | undefined
  /** Extra words to search by: codings' display texts, values. */
  words?: string | undefined
}

type Json = Record<string, unknown>

/** LOINC long names carry bracketed property and system parts ("Glucose [Mass/volume] in Blood"). */
export function plainWords(text: string): string {
  return (
    text
      .replace(/\s*\[[^\]]*\]/g, '')
      .replace(/\s+by\s+(automated|manual)\s+count$/i, '')
      // SNOMED CT's semantic tags: "Colonoscopy (procedure)".
      .replace(/\s*\((procedure|disorder|finding|situation|regime\/therapy|observable entity|qualifier value)\)$/i, '')
      .replace(/\s{2,}/g, ' ')
      .trim()
  )
}

export function conceptText(concept: CodeableConcept | undefined): string | undefined {
  const text = concept?.text ?? concept?.coding?.find((c) => c.display)?.display
  return text ? plainWords(text) : undefined
}

const startOf = (p: Period | undefined) => p?.start ?? p?.end
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined)

/** The id a reference points at: `Encounter/123`, `urn:uuid:abc`, or an absolute URL ending so. */
export function referencedId(ref: Reference | undefined): string | undefined {
  const r = ref?.reference
  if (!r) return undefined
  if (r.startsWith('urn:uuid:')) return r.slice('urn:uuid:'.length)
  return r.split('/').filter(Boolean).at(-1)
}

/** The clinical date by resource type: effective, occurrence, onset, performed, period, authored, issued… */
export function clinicalDate(resource: Resource): string | undefined {
  const r = resource as Resource & Json
  switch (resource.resourceType) {
    case 'Observation':
      return resource.effectiveDateTime ?? resource.effectiveInstant ?? startOf(resource.effectivePeriod) ?? resource.issued
    case 'DiagnosticReport':
      return resource.effectiveDateTime ?? startOf(resource.effectivePeriod) ?? resource.issued
    case 'Condition':
      return resource.onsetDateTime ?? startOf(resource.onsetPeriod) ?? resource.recordedDate
    case 'AllergyIntolerance':
      return resource.onsetDateTime ?? startOf(resource.onsetPeriod) ?? resource.recordedDate
    case 'Procedure':
      return resource.performedDateTime ?? startOf(resource.performedPeriod)
    case 'Encounter':
      return startOf(resource.period)
    case 'Immunization':
      return resource.occurrenceDateTime ?? resource.recorded
    case 'MedicationRequest':
      return resource.authoredOn
    case 'MedicationStatement':
      return resource.effectiveDateTime ?? startOf(resource.effectivePeriod) ?? resource.dateAsserted
    case 'MedicationAdministration':
      return resource.effectiveDateTime ?? startOf(resource.effectivePeriod)
    case 'MedicationDispense':
      return resource.whenHandedOver ?? resource.whenPrepared
    case 'CarePlan':
      return startOf(resource.period) ?? resource.created
    case 'CareTeam':
      return startOf(resource.period)
    case 'Claim':
      return startOf(resource.billablePeriod) ?? resource.created
    case 'ExplanationOfBenefit':
      return startOf(resource.billablePeriod) ?? resource.created
    case 'DocumentReference':
      return startOf(resource.context?.period) ?? resource.date
    case 'ImagingStudy':
      return resource.started
    case 'Composition':
      return resource.date
    case 'Goal':
      return resource.startDate
    case 'Device':
      return resource.manufactureDate
    default:
      return str(r.date) ?? str(r.effectiveDateTime) ?? str(r.created)
  }
}

function encounterOf(resource: Resource): string | undefined {
  const r = resource as Resource & Json
  if (resource.resourceType === 'DocumentReference') return referencedId(resource.context?.encounter?.[0])
  if (resource.resourceType === 'Claim') return referencedId(resource.item?.[0]?.encounter?.[0])
  if (resource.resourceType === 'ExplanationOfBenefit') return referencedId(resource.item?.[0]?.encounter?.[0])
  if (resource.resourceType === 'MedicationAdministration') return referencedId(resource.context)
  return referencedId(r.encounter as Reference | undefined)
}

const VITAL_SIGNS = 'vital-signs'

/** A patient category for resources the chain files under "other" (and for vital signs, under lab results). */
function inferredCategory(resource: Resource): string | undefined {
  switch (resource.resourceType) {
    case 'Observation':
      return resource.category?.some((c) => c.coding?.some((k) => k.code === VITAL_SIGNS)) ? VITAL_SIGNS : 'laboratory'
    case 'Condition':
      return 'condition'
    case 'Procedure':
      return 'procedure'
    case 'Encounter':
      return 'encounter'
    case 'CarePlan':
    case 'CareTeam':
    case 'Goal':
      return 'care-plan'
    case 'Claim':
    case 'ExplanationOfBenefit':
    case 'Coverage':
      return 'billing'
    case 'AllergyIntolerance':
      return 'allergy'
    case 'Immunization':
      return 'immunization'
    case 'MedicationRequest':
    case 'MedicationStatement':
    case 'MedicationAdministration':
    case 'MedicationDispense':
      return 'medication'
    case 'ImagingStudy':
      return 'imaging'
    case 'DocumentReference':
    case 'Composition':
      return 'clinical-note'
    case 'DiagnosticReport':
      return 'laboratory'
    default:
      return undefined
  }
}

/** A title in the record's own words, or undefined to let the caller use the category's label. */
export function clinicalTitle(resource: Resource): string | undefined {
  switch (resource.resourceType) {
    case 'Observation':
    case 'DiagnosticReport':
    case 'Condition':
    case 'Procedure':
      return conceptText(resource.code)
    case 'AllergyIntolerance': {
      const what = conceptText(resource.code)
      return what ? `Allergy: ${what}` : undefined
    }
    case 'Immunization':
      return conceptText(resource.vaccineCode)
    case 'MedicationRequest':
    case 'MedicationStatement':
    case 'MedicationAdministration':
    case 'MedicationDispense':
      return conceptText(resource.medicationCodeableConcept) ?? resource.medicationReference?.display
    case 'Encounter': {
      const what = conceptText(resource.type?.[0]) ?? conceptText(resource.reasonCode?.[0])
      return what ? `Visit: ${what}` : 'Visit'
    }
    case 'CarePlan':
      return resource.title ?? conceptText(resource.category?.find((c) => c.text || c.coding?.some((k) => k.display)))
    case 'CareTeam':
      return resource.name ?? 'Care team'
    case 'Goal':
      return conceptText(resource.description)
    case 'Claim':
      return resource.provider?.display ? `Bill from ${resource.provider.display}` : 'Bill for a visit'
    case 'ExplanationOfBenefit':
      return 'Insurance statement'
    case 'DocumentReference':
      return resource.description ?? conceptText(resource.type)
    case 'ImagingStudy':
      return resource.description ?? conceptText(resource.procedureCode?.[0])
    case 'Composition':
      return resource.title
    default:
      return undefined
  }
}

function searchWords(resource: Resource): string {
  const out: string[] = []
  const walk = (v: unknown, depth: number) => {
    if (depth > 6 || out.length > 60) return
    if (Array.isArray(v)) for (const x of v) walk(x, depth + 1)
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Json)) {
        if ((k === 'display' || k === 'text' || k === 'description' || k === 'conclusion') && typeof x === 'string') out.push(x)
        else if (k !== 'reference' && k !== 'system' && k !== 'data') walk(x, depth + 1)
      }
    }
  }
  walk(resource, 0)
  return out.join(' ')
}

/** The facts above, from a decrypted resource (anything not FHIR gives nothing). */
export function clinicalFacts(resource: Record<string, unknown> | undefined): ClinicalFacts {
  if (!resource || typeof resource.resourceType !== 'string') return {}
  const r = resource as unknown as Resource
  return {
    date: clinicalDate(r),
    title: clinicalTitle(r),
    category: inferredCategory(r),
    id: r.id,
    encounter: encounterOf(r),
    words: searchWords(r),
  }
}
