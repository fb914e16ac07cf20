import type { Resource } from '@medplum/fhirtypes'

/**
 * The HIPAA Safe Harbor identifier kinds (45 CFR 164.514(b)(2)(i), A to R), as named in the
 * `removed` list. `age` is the 90+ grouping, `free-text` a text field removed because it may hold
 * any of the others (names, dates, numbers in a clinician's words).
 */
export type IdentifierKind =
  | 'name'
  | 'geographic'
  | 'date'
  | 'age'
  | 'phone'
  | 'fax'
  | 'email'
  | 'ssn'
  | 'mrn'
  | 'health-plan'
  | 'account'
  | 'license'
  | 'vehicle'
  | 'device'
  | 'url'
  | 'ip'
  | 'biometric'
  | 'photo'
  | 'other-id'
  | 'free-text'

export type DeidOptions = {
  /** The patient's 32-byte pseudonym secret: the same key and study give the same pseudonyms. */
  pseudonymKey: Uint8Array
  /** The study the copy is made for; pseudonyms of different studies cannot be linked. */
  studyId: string
}

/** Where something was removed or generalised: a FHIR path, never the value. */
export type RemovedElement = { resourceType: string; path: string; kind: IdentifierKind }

export type DeidResult = {
  resources: Resource[]
  /** The patient's study pseudonym: the Patient's id in the output and every reference to it. */
  pseudonym: string
  removed: RemovedElement[]
}
