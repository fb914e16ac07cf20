import type { Patient, Resource } from '@medplum/fhirtypes'
import { InvalidInputError } from '../../errors.js'
import { parseLiteralReference } from './references.js'
import { AGE_GROUP_EXTENSION } from './rules.js'

export type KAnonymityReport = {
  k: number
  quasiIdentifiers: ['birthYear', 'sex', 'zip3']
  /** Distinct combinations of the quasi-identifiers. */
  classes: number
  /** Patients in the smallest class (0 when there are none). */
  smallestClass: number
  /** Resources that belong to a patient (the Patient and every resource referring to it). */
  records: number
  /** Classes of fewer than k patients. */
  violating: Array<{ birthYear: string; sex: string; zip3: string; count: number }>
}

export const DEFAULT_K = 5

type QuasiIdentifiers = { birthYear: string; sex: string; zip3: string }

/**
 * k-anonymity of a de-identified dataset over year of birth, sex and 3-digit ZIP, read from its
 * Patient resources ("90+" for the grouped ages, "unknown" where absent). A class counts patients,
 * not records: one patient's 300 records do not hide them in a crowd of 300. A patient whose
 * records are in the dataset without their Patient resource falls in the all-"unknown" class.
 *
 * @param resources - the de-identified dataset (several patients' copies together)
 * @param k - the smallest acceptable class (default 5)
 * @example
 * kAnonymityReport(dataset, 5).violating // classes that need suppressing or generalising
 */
export function kAnonymityReport(resources: Resource[], k: number = DEFAULT_K): KAnonymityReport {
  if (!Number.isInteger(k) || k < 1) throw new InvalidInputError(`k must be a positive whole number, not ${k}.`)
  const patients = new Map<string, QuasiIdentifiers>()
  const unknown: QuasiIdentifiers = { birthYear: 'unknown', sex: 'unknown', zip3: 'unknown' }
  for (const r of resources) if (r.resourceType === 'Patient' && r.id) patients.set(r.id, quasiIdentifiers(r))

  let records = 0
  for (const r of resources) {
    const owner = r.resourceType === 'Patient' ? r.id : patientOf(r)
    if (owner === undefined) continue
    records += 1
    if (!patients.has(owner)) patients.set(owner, unknown)
  }

  const classes = new Map<string, QuasiIdentifiers & { count: number }>()
  for (const qi of patients.values()) {
    const key = JSON.stringify([qi.birthYear, qi.sex, qi.zip3])
    const c = classes.get(key)
    if (c) c.count += 1
    else classes.set(key, { ...qi, count: 1 })
  }
  const all = [...classes.values()]
  const violating = all
    .filter((c) => c.count < k)
    .sort(
      (a, b) => a.count - b.count || a.birthYear.localeCompare(b.birthYear) || a.sex.localeCompare(b.sex) || a.zip3.localeCompare(b.zip3),
    )
  return {
    k,
    quasiIdentifiers: ['birthYear', 'sex', 'zip3'],
    classes: all.length,
    smallestClass: all.length === 0 ? 0 : Math.min(...all.map((c) => c.count)),
    records,
    violating,
  }
}

function quasiIdentifiers(patient: Patient): QuasiIdentifiers {
  const grouped = patient.extension?.some((e) => e.url === AGE_GROUP_EXTENSION)
  const birthYear = grouped ? '90+' : (/^\d{4}/.exec(patient.birthDate ?? '')?.[0] ?? 'unknown')
  const addresses = patient.address ?? []
  const address = addresses.find((a) => a.use === 'home' && a.postalCode) ?? addresses.find((a) => a.postalCode)
  const zip3 = /^\d{3}$/.test(address?.postalCode ?? '') ? (address?.postalCode as string) : 'unknown'
  return { birthYear, sex: patient.gender ?? 'unknown', zip3 }
}

/** The id of the Patient a resource refers to (its subject, patient, ...), if any. */
function patientOf(resource: Resource): string | undefined {
  let found: string | undefined
  const visit = (value: unknown, depth: number) => {
    if (found !== undefined || depth > 64 || typeof value !== 'object' || value === null) return
    if (Array.isArray(value)) {
      for (const v of value) visit(v, depth + 1)
      return
    }
    const record = value as Record<string, unknown>
    const reference = record['reference']
    if (typeof reference === 'string') {
      const literal = parseLiteralReference(reference)
      if (literal?.type === 'Patient') found = literal.id
    }
    for (const child of Object.values(record)) visit(child, depth + 1)
  }
  visit(resource, 0)
  return found
}
