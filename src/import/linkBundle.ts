/**
 * A parsed Bundle made the patient's before anything is sealed: its references to the Bundle's
 * Patient pointed at the patient's account, and every entry's subject checked to be that patient.
 */
import type { Resource } from '@medplum/fhirtypes'
import { createHash } from 'node:crypto'
import type { Address } from 'viem'
import { InvalidInputError } from '../errors.js'
import { canonicalFhirBytes, checkPatientOf, mapReferences } from '../fhir/index.js'
import type { ImportEntry, ParsedImportBundle } from './parseBundle.js'

/**
 * The entries with their references to the Bundle's Patient pointed at the patient's account
 * (`Patient/0x…`), the Patient resource medvault serves for them, before anything is sealed.
 * Deterministic, so a resumed import seals the same bytes.
 */
export function linkToPatient(bundle: ParsedImportBundle, patient: Address): ParsedImportBundle {
  const from = bundle.patientReference
  const to = `Patient/${patient}`
  if (!from || from === to) return bundle
  const entries = bundle.entries.map((entry): ImportEntry => {
    const text = Buffer.from(entry.content).toString('utf8')
    if (!text.includes(`"${from}"`)) return entry
    const resource = mapReferences(JSON.parse(text) as Resource, (ref) => (ref === from ? to : undefined))
    const content = canonicalFhirBytes(resource)
    return { ...entry, content, digest: `0x${createHash('sha256').update(content).digest('hex')}` }
  })
  return { ...bundle, entries, patientReference: to }
}

/** A Bundle without a Patient entry is not checked by parseImportBundle: its entries' subjects are, here. */
export function checkSubjects(bundle: ParsedImportBundle, patient: Address, chainId: number): void {
  for (const entry of bundle.entries) {
    try {
      checkPatientOf(JSON.parse(Buffer.from(entry.content).toString('utf8')), patient, chainId)
    } catch (error) {
      if (error instanceof InvalidInputError)
        throw new InvalidInputError(`Entry ${entry.index}: ${error.shortMessage}`, { hint: 'Nothing was imported.' })
      throw error
    }
  }
}
