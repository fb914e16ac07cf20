/**
 * Searching de-identified output for the input's identifiers: the values are collected from the
 * input by walking it (not listed by hand), then looked for as they are, in any case, and as bare
 * digits.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes'

type Json = Record<string, unknown>

/** Keys whose whole subtree is identifying (only these leaves of it, where given). */
const SUBTREES: Record<string, readonly string[] | undefined> = {
  telecom: ['value'],
  identifier: ['value'],
  address: ['line', 'city', 'district', 'postalCode', 'text'],
  contact: undefined,
  photo: undefined,
  note: undefined,
  udiCarrier: undefined,
  div: undefined,
  conclusion: undefined,
  description: undefined,
  lotNumber: undefined,
  serialNumber: undefined,
  distinctIdentifier: undefined,
  subscriberId: undefined,
  url: undefined,
  data: undefined,
  title: undefined,
  hash: undefined,
  source: undefined,
  position: undefined,
  text: undefined,
  manufacturer: undefined,
}
const IDENTIFYING_EXTENSIONS = /mothersMaidenName|birthPlace|geolocation/

/**
 * Every identifying value of the input, found by walking it: names (HumanName parts, names of
 * organisations and places), the subtrees above, reference displays, ids, fullUrls and references
 * (unique codes), values of identifying extensions, and every date with a month or day.
 */
export function collectIdentifiers(bundle: Bundle): Set<string> {
  const found = new Set<string>()
  const add = (v: unknown) => {
    if (typeof v === 'number') found.add(String(v))
    if (typeof v === 'string' && v.length >= 3) found.add(v)
  }
  const all = (v: unknown, only?: readonly string[]): void => {
    if (Array.isArray(v)) for (const x of v) all(x, only)
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) if (!only || only.includes(k)) all(x)
    } else add(v)
  }
  const walk = (v: unknown, key: string, parent: Json | undefined): void => {
    if (typeof v === 'string' && /^\d{4}-\d{2}/.test(v)) add(v.slice(0, 10))
    if (Array.isArray(v)) {
      for (const x of v) walk(x, key, parent)
      return
    }
    if (typeof v !== 'object' || v === null) {
      if (key === 'name' && parent && !('type' in parent && parent['type'] === 'user-friendly-name')) add(v)
      if (key === 'display' && parent && 'reference' in parent) add(v)
      if (key === 'id' || key === 'fullUrl' || key === 'reference' || key === 'uid') add(v)
      // A text beside codes is the code's words (kept); any other text, and the other subtrees' strings, identify.
      // An extension's url is its name and a request's url its resource type: neither identifies.
      const extensionName =
        key === 'url' && parent && Object.keys(parent).some((k) => k === 'extension' || k.startsWith('value') || k === 'method')
      if (key in SUBTREES && key !== 'address' && !extensionName && !(key === 'text' && parent && 'coding' in parent)) add(v)
      return
    }
    const o = v as Json
    if (key === 'name' && ('family' in o || 'given' in o || 'text' in o)) {
      all(o)
      return
    }
    if (key in SUBTREES && key !== 'text') {
      all(o, SUBTREES[key])
      return
    }
    if (key === 'text' && 'div' in o) {
      all(o)
      return
    }
    if (key === 'class' && 'value' in o) {
      all(o, ['value', 'name'])
      return
    }
    if (key === 'extension' && typeof o['url'] === 'string' && IDENTIFYING_EXTENSIONS.test(o['url'])) {
      for (const [k, x] of Object.entries(o)) if (k !== 'url') all(x)
      return
    }
    for (const [k, x] of Object.entries(o)) walk(x, k, o)
  }
  walk(bundle, '', undefined)
  // Markup around the narrative's words is not identifying; the words are.
  for (const value of [...found]) {
    if (value.includes('<div')) {
      found.delete(value)
      for (const part of value.replace(/<[^>]+>/g, ' ').split(/[\s,()]+/))
        if (part.length >= 4 && !/^(born|with|Visit|Blood|pressure|June|\d{4})$/.test(part)) found.add(part)
    }
  }
  return found
}

/** Every string (and number) in the output, to compare digits with digits. */
export function outputStrings(resources: Resource[]): string[] {
  const out: string[] = []
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk)
    else if (typeof v === 'string' || typeof v === 'number') out.push(String(v))
  }
  walk(resources)
  return out
}

/** Where an identifier value shows in the NDJSON: as is, in any case, or (for 7+ digits) as the same digits. */
export function leaks(values: Iterable<string>, ndjson: string, strings: string[]): string[] {
  const lower = ndjson.toLowerCase()
  const digitStrings = strings.map((s) => s.replace(/\D/g, ''))
  const leaked: string[] = []
  for (const value of values) {
    const digits = value.replace(/\D/g, '')
    // A word (a name) is looked for as a word: "Ada" is not in "Headache".
    const word = /^[\p{L}' -]+$/u.test(value)
    const found = word
      ? new RegExp(`(?<!\\p{L})${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\p{L})`, 'iu').test(ndjson)
      : ndjson.includes(value) || lower.includes(value.toLowerCase())
    if (found) leaked.push(value)
    else if (digits.length >= 7 && digitStrings.some((d) => d.includes(digits))) leaked.push(`${value} (digits)`)
  }
  return leaked
}
