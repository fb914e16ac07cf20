import { type Address, getAddress, isAddress } from 'viem'
import { InvalidInputError } from '../errors.js'

/**
 * The elements by which a resource names the patient it is about (the Patient compartment's
 * "subject"-like links for the types medvault stores: https://hl7.org/fhir/R4/compartmentdefinition-patient.html).
 */
export const PATIENT_ELEMENTS = ['subject', 'patient', 'beneficiary'] as const

type JsonObject = Record<string, unknown>

export type PatientReference = { element: (typeof PATIENT_ELEMENTS)[number]; reference?: string; identifier?: string }

/** The patient references a resource carries at its top level, with the element each is in. */
export function patientReferences(resource: unknown): PatientReference[] {
  if (typeof resource !== 'object' || resource === null) return []
  const found: PatientReference[] = []
  for (const element of PATIENT_ELEMENTS) {
    const value = (resource as JsonObject)[element]
    for (const ref of Array.isArray(value) ? value : value ? [value] : []) {
      if (typeof ref !== 'object' || ref === null) continue
      const { reference, identifier } = ref as { reference?: unknown; identifier?: { value?: unknown } }
      found.push({
        element,
        ...(typeof reference === 'string' ? { reference } : {}),
        ...(typeof identifier?.value === 'string' ? { identifier: identifier.value } : {}),
      })
    }
  }
  return found
}

/**
 * The medvault account a reference names: `Patient/0x…` (relative or absolute) or an identifier
 * `eip155:<chain>:0x…` on this chain. Anything else (`urn:uuid:…`, `Patient/example`) names no account.
 */
export function referencedAccount(ref: Omit<PatientReference, 'element'>, chainId: number): Address | undefined {
  const m = ref.reference ? /(?:^|\/)Patient\/(0x[0-9a-fA-F]{40})(?:\/_history\/[^/]+)?$/.exec(ref.reference) : null
  if (m && isAddress(m[1]!)) return getAddress(m[1]!)
  const id = ref.identifier ? /^eip155:(\d+):(0x[0-9a-fA-F]{40})$/.exec(ref.identifier) : null
  if (id && Number(id[1]) === chainId && isAddress(id[2]!)) return getAddress(id[2]!)
  return undefined
}

/**
 * Refuses a resource whose subject (or patient, beneficiary) names a medvault account other than
 * the patient it is being issued to: it would file one person's data in another's records.
 * The message names the element, never the reference.
 */
export function checkPatientOf(resource: unknown, patient: Address, chainId: number): void {
  for (const ref of patientReferences(resource)) {
    const account = referencedAccount(ref, chainId)
    if (account && account !== getAddress(patient)) {
      const type = (resource as JsonObject).resourceType
      throw new InvalidInputError(
        `The ${typeof type === 'string' ? type : 'resource'}'s ${ref.element} names a different patient than the one it is being issued to.`,
        { hint: `Issue it to the patient its ${ref.element} names, or correct its ${ref.element}.` },
      )
    }
  }
}

/** The one account the resource's patient references name, if they name one. */
export function patientAccountOf(resource: unknown, chainId: number): Address | undefined {
  const accounts = new Set(patientReferences(resource).flatMap((ref) => referencedAccount(ref, chainId) ?? []))
  if (accounts.size > 1)
    throw new InvalidInputError('The resource names more than one patient.', { hint: 'A record belongs to one patient.' })
  return [...accounts][0]
}
