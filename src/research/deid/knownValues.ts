import type { Resource } from '@medplum/fhirtypes'
import type { IdentifierKind } from './types.js'

/**
 * The identifying values the input itself holds (names, telecom, identifiers, addresses of the
 * people in it), looked for in every text that is kept: a lab's display text that happens to
 * carry the patient's surname is removed. Written by hand: it is specific to this walk.
 */
export type KnownValues = { find(text: string): IdentifierKind | undefined }

type Known = { kind: IdentifierKind; lower: string; digits: string | undefined; word: boolean }

const PEOPLE = new Set(['Patient', 'RelatedPerson', 'Practitioner', 'Person'])

export function collectKnownValues(resources: readonly Resource[]): KnownValues {
  const known: Known[] = []
  const add = (kind: IdentifierKind, value: unknown, word = false) => {
    if (typeof value !== 'string') return
    const lower = value.trim().toLowerCase()
    // One or two letters ("J", "Jr") would match everywhere; such a value cannot identify in a code's text anyway.
    if (lower.length < 3) return
    const digits = value.replace(/\D/g, '')
    known.push({ kind, lower, digits: digits.length >= 7 ? digits : undefined, word })
  }
  const visit = (resource: Resource) => {
    const r = resource as unknown as Record<string, unknown>
    if (PEOPLE.has(resource.resourceType)) {
      for (const name of list(r['name'])) {
        for (const part of [
          ...strings(name['given']),
          ...strings(name['prefix']),
          ...strings(name['suffix']),
          name['family'],
          name['text'],
        ]) {
          add('name', part, true)
        }
      }
      for (const contact of list(r['contact'])) {
        const name = contact['name'] as Record<string, unknown> | undefined
        if (name) for (const part of [...strings(name['given']), name['family'], name['text']]) add('name', part, true)
      }
    }
    for (const t of list(r['telecom'])) add(t['system'] === 'email' ? 'email' : t['system'] === 'fax' ? 'fax' : 'phone', t['value'])
    for (const id of list(r['identifier'])) add('other-id', id['value'])
    for (const a of list(r['address'])) {
      for (const line of strings(a['line'])) add('geographic', line)
      add('geographic', a['city'], true)
      add('geographic', a['district'], true)
      add('geographic', a['postalCode'])
      add('geographic', a['text'])
    }
    for (const c of list(r['contained'])) visit(c as unknown as Resource)
  }
  for (const resource of resources) visit(resource)

  return {
    find(text) {
      const lower = text.toLowerCase()
      const digits = text.replace(/\D/g, '')
      for (const k of known) {
        if (k.word ? wordIn(lower, k.lower) : lower.includes(k.lower)) return k.kind
        if (k.digits && digits.includes(k.digits)) return k.kind
      }
      return undefined
    },
  }
}

function wordIn(text: string, word: string): boolean {
  let from = text.indexOf(word)
  while (from >= 0) {
    const before = text[from - 1]
    const after = text[from + word.length]
    if (!isLetter(before) && !isLetter(after)) return true
    from = text.indexOf(word, from + 1)
  }
  return false
}

const isLetter = (c: string | undefined) => c !== undefined && /\p{L}/u.test(c)

function list(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter((v) => typeof v === 'object' && v !== null) as Record<string, unknown>[]
  return []
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}
