/** Words and dates for people, not for machines. */
import type { Address } from 'viem'

export const CATEGORY_LABEL: Record<string, string> = {
  laboratory: 'Lab result',
  imaging: 'Imaging',
  immunization: 'Immunization',
  medication: 'Medication',
  'clinical-note': 'Clinical note',
  'mental-health': 'Mental health',
  'substance-use': 'Substance use',
  'sexual-health': 'Sexual health',
  genetic: 'Genetic',
  'vital-signs': 'Vital signs',
  condition: 'Conditions',
  procedure: 'Procedures',
  encounter: 'Visits',
  'care-plan': 'Care plans',
  billing: 'Bills and insurance',
  allergy: 'Allergies',
  other: 'Other',
}

/** Plural forms for sentences like "your lab results". */
export const CATEGORY_PLURAL: Record<string, string> = {
  laboratory: 'lab results',
  imaging: 'imaging studies',
  immunization: 'immunizations',
  medication: 'medications',
  'clinical-note': 'clinical notes',
  'mental-health': 'mental health records',
  'substance-use': 'substance use records',
  'sexual-health': 'sexual health records',
  genetic: 'genetic test results',
  'vital-signs': 'vital signs',
  condition: 'conditions',
  procedure: 'procedures',
  encounter: 'visits',
  'care-plan': 'care plans',
  billing: 'bills and insurance statements',
  allergy: 'allergies',
  other: 'other records',
}

/** Singular forms for sentences like "your lab result". */
export const CATEGORY_ONE: Record<string, string> = {
  laboratory: 'lab result',
  imaging: 'imaging study',
  immunization: 'immunization',
  medication: 'medication record',
  'clinical-note': 'clinical note',
  'mental-health': 'mental health record',
  'substance-use': 'substance use record',
  'sexual-health': 'sexual health record',
  genetic: 'genetic test result',
  'vital-signs': 'vital sign',
  condition: 'condition',
  procedure: 'procedure',
  encounter: 'visit',
  'care-plan': 'care plan',
  billing: 'bill',
  allergy: 'allergy',
  other: 'record',
}

/** Words a patient may search by besides a category's label ("my blood test in March 2019"). */
export const CATEGORY_WORDS: Record<string, string> = {
  laboratory: 'lab test blood test results',
  imaging: 'scan x-ray mri ultrasound',
  immunization: 'vaccine vaccination jab shot',
  medication: 'medicine prescription drug pill',
  'clinical-note': 'note letter report',
  'vital-signs': 'blood pressure heart rate weight height temperature bmi',
  condition: 'diagnosis illness problem',
  procedure: 'operation surgery treatment',
  encounter: 'visit appointment consultation',
  'care-plan': 'plan care',
  billing: 'bill invoice insurance claim cost',
  allergy: 'allergic reaction',
}

/**
 * The category a patient sees: the chain's, unless the chain files the record under "other" (or
 * vital signs under lab results, before the chain knew vital signs) and its content says better.
 */
export function patientCategory(chain: string, inferred: string | undefined): string {
  if (!inferred) return chain
  if (chain === 'other' || (chain === 'laboratory' && inferred === 'vital-signs')) return inferred
  return chain
}

export const SENSITIVE = ['mental-health', 'substance-use', 'sexual-health', 'genetic'] as const
/** What a patient can share by kind, in the order a patient looks for them: every category that is not sensitive (codes 10-16 too). */
export const ORDINARY = [
  'laboratory',
  'vital-signs',
  'condition',
  'medication',
  'immunization',
  'allergy',
  'procedure',
  'imaging',
  'encounter',
  'care-plan',
  'clinical-note',
  'billing',
  'other',
] as const

const dateFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric' })
const dateTimeFormat = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
})

export const formatDate = (iso: string | Date) => dateFormat.format(new Date(iso))
export const formatDateTime = (iso: string | Date) => dateTimeFormat.format(new Date(iso))

export function shortAddress(address: string) {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

/** A name for an account: "you", a provider's registered name, or words saying it has none (never its number). */
export function nameOf(address: string | undefined, me: Address, names: Map<string, string>): string {
  if (!address) return 'someone'
  if (address.toLowerCase() === me.toLowerCase()) return 'You'
  return names.get(address.toLowerCase()) ?? 'Someone outside the provider registry'
}

export function listInWords(items: string[]): string {
  if (items.length <= 1) return items[0] ?? ''
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}
