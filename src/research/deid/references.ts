import type { Resource } from '@medplum/fhirtypes'
import { InvalidInputError } from '../../errors.js'
import { pseudonymousResourceId } from './pseudonym.js'

/** One input resource with the Bundle entry's fullUrl, when it came from a Bundle. */
export type InputResource = { resource: Resource; fullUrl?: string | undefined }

/**
 * The study ids of the input's resources, and references rewritten to them: a reference to a
 * resource in the input (by `Type/id`, an absolute URL ending in it, or an entry's `urn:uuid:`
 * fullUrl) becomes `Type/<pseudonymous id>`, so links inside the study survive; a reference to
 * anything else resolves to nothing and is removed.
 */
export type ReferenceIndex = {
  idOf(resource: Resource): string
  resolve(reference: string): string | undefined
}

const RELATIVE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/

/** `Type/id` at the end of a literal reference (relative, absolute or versioned), if any. */
export function parseLiteralReference(reference: string): { type: string; id: string } | undefined {
  const match = RELATIVE.exec(reference)
  return match?.[1] && match[2] ? { type: match[1], id: match[2] } : undefined
}

/** Elements that point at the record's patient in Synthea's and most servers' resources. */
const PATIENT_ELEMENTS = ['subject', 'patient', 'beneficiary']

export function buildReferenceIndex(
  inputs: readonly InputResource[],
  options: { pseudonymKey: Uint8Array; studyId: string; pseudonym: string },
): ReferenceIndex {
  const ids = new Map<Resource, string>()
  const byKey = new Map<string, string>()
  const patients = inputs.filter((i) => i.resource.resourceType === 'Patient')
  if (patients.length > 1) {
    throw new InvalidInputError(
      `The input holds ${patients.length} Patient resources; a de-identified copy is made for one patient at a time.`,
      {
        hint: 'Split the data into one Bundle per patient.',
      },
    )
  }
  for (const [index, { resource, fullUrl }] of inputs.entries()) {
    const type = resource.resourceType
    const original = resource.id ?? fullUrl ?? `entry-${index}`
    const id = type === 'Patient' ? options.pseudonym : pseudonymousResourceId(options.pseudonymKey, options.studyId, type, original)
    ids.set(resource, id)
    if (resource.id) byKey.set(`${type}/${resource.id}`, `${type}/${id}`)
    if (fullUrl) byKey.set(fullUrl, `${type}/${id}`)
  }

  const lookup = (reference: string): string | undefined => {
    const exact = byKey.get(reference)
    if (exact) return exact
    const literal = parseLiteralReference(reference)
    return literal ? byKey.get(`${literal.type}/${literal.id}`) : undefined
  }

  // The records of a patient without their Patient resource (what a study copy holds when the
  // demographics are not shared) still point at one patient: those references become the pseudonym.
  const patientRefs = new Set<string>()
  const patientReference = `Patient/${options.pseudonym}`
  for (const { resource } of inputs) {
    for (const reference of referencesIn(resource)) {
      if (lookup(reference.value)) continue
      const literal = parseLiteralReference(reference.value)
      if (literal?.type === 'Patient') patientRefs.add(reference.value)
      else if (patients.length === 0 && PATIENT_ELEMENTS.includes(reference.element) && !literal) patientRefs.add(reference.value)
    }
  }
  if (patients.length === 1 && patientRefs.size > 0) {
    throw new InvalidInputError(
      "Some resources refer to another patient than the input's Patient; a de-identified copy is one patient's.",
      {
        hint: "Remove the other patients' resources.",
      },
    )
  }
  const distinctPatients = new Set([...patientRefs].map((r) => parseLiteralReference(r)?.id ?? r))
  if (distinctPatients.size > 1) {
    throw new InvalidInputError(
      `The resources refer to ${distinctPatients.size} different patients; a de-identified copy is one patient's.`,
      {
        hint: 'Split the data by patient.',
      },
    )
  }

  return {
    idOf: (resource) => {
      const id = ids.get(resource)
      if (id === undefined) throw new Error('unreachable: every input resource has a study id')
      return id
    },
    resolve: (reference) => lookup(reference) ?? (patientRefs.has(reference) ? patientReference : undefined),
  }
}

/** Every `reference` string in a resource, with the name of the element holding the Reference. */
function referencesIn(resource: Resource): { element: string; value: string }[] {
  const found: { element: string; value: string }[] = []
  const visit = (value: unknown, element: string, depth: number) => {
    if (depth > 64 || typeof value !== 'object' || value === null) return
    if (Array.isArray(value)) {
      for (const v of value) visit(v, element, depth + 1)
      return
    }
    const record = value as Record<string, unknown>
    if (typeof record['reference'] === 'string' && !record['reference'].startsWith('#')) found.push({ element, value: record['reference'] })
    for (const [key, child] of Object.entries(record)) if (key !== 'contained') visit(child, key, depth + 1)
  }
  visit(resource, '', 0)
  return found
}
