import { createHmac } from 'node:crypto'
import { InvalidInputError } from '../../errors.js'

/** Domain separation: a pseudonym can never equal a resource id, nor either one a value made for another purpose. */
const STUDY_PSEUDONYM = 'medvault/deid/study-pseudonym/v1'
const RESOURCE_ID = 'medvault/deid/resource-id/v1'

function checkKey(pseudonymKey: Uint8Array, studyId: string): void {
  if (!(pseudonymKey instanceof Uint8Array) || pseudonymKey.length !== 32) {
    throw new InvalidInputError('The pseudonym key must be 32 bytes.', { hint: "Pass the patient's 32-byte pseudonym secret." })
  }
  if (typeof studyId !== 'string' || studyId.length === 0) throw new InvalidInputError('The study id must be a non-empty string.')
}

function hmac(key: Uint8Array, parts: string[]): string {
  // JSON encoding keeps the parts unambiguous ("a|b","c" never collides with "a","b|c").
  return createHmac('sha256', key).update(JSON.stringify(parts)).digest('hex')
}

/**
 * The patient's pseudonym in one study: HMAC-SHA256 of the study id under the patient's secret,
 * as 64 hex digits (a valid FHIR id). The same patient gets the same pseudonym in every copy made
 * for the study, so their records link; without the secret, pseudonyms of two studies cannot be
 * linked to each other or to the patient.
 *
 * @param pseudonymKey - the patient's 32-byte secret
 * @param studyId - the study
 * @example
 * studyPseudonym(key, 'study-7') // '3f0c…' (64 hex digits)
 */
export function studyPseudonym(pseudonymKey: Uint8Array, studyId: string): string {
  checkKey(pseudonymKey, studyId)
  return hmac(pseudonymKey, [STUDY_PSEUDONYM, studyId])
}

/** A resource's id in the study copy: 32 hex digits, stable for the patient, study and original id. */
export function pseudonymousResourceId(pseudonymKey: Uint8Array, studyId: string, resourceType: string, originalId: string): string {
  checkKey(pseudonymKey, studyId)
  return hmac(pseudonymKey, [RESOURCE_ID, studyId, resourceType, originalId]).slice(0, 32)
}

const DICOM_UID = 'medvault/deid/dicom-uid/v1'

/**
 * A DICOM UID's stand-in in the study copy: a UUID-derived UID under the `2.25` root (DICOM PS3.5
 * B.2), from an HMAC of the original, so series and instances keep their identity within the
 * study and nothing links them to the hospital's PACS.
 */
export function pseudonymousDicomUid(pseudonymKey: Uint8Array, studyId: string, uid: string): string {
  checkKey(pseudonymKey, studyId)
  return `2.25.${BigInt(`0x${hmac(pseudonymKey, [DICOM_UID, studyId, uid]).slice(0, 32)}`).toString()}`
}
