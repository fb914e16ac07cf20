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
  other: 'record',
}

export const SENSITIVE = ['mental-health', 'substance-use', 'sexual-health', 'genetic'] as const
export const ORDINARY = ['laboratory', 'imaging', 'immunization', 'medication', 'clinical-note', 'other'] as const

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

/** A name for an account: "you", a provider's registered name, or a shortened address. */
export function nameOf(address: string | undefined, me: Address, names: Map<string, string>): string {
  if (!address) return 'someone'
  if (address.toLowerCase() === me.toLowerCase()) return 'You'
  return names.get(address.toLowerCase()) ?? `Account ${shortAddress(address)}`
}

export function listInWords(items: string[]): string {
  if (items.length <= 1) return items[0] ?? ''
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}
