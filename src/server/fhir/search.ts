/**
 * FHIR search over decrypted resources: the chain and the index know a record's patient, category
 * and issue date, never its codes or clinical dates, so `code` and `date` are matched here, after
 * each record was opened for the caller. https://hl7.org/fhir/R4/search.html
 */
import type { CodeableConcept, Coding, Resource } from '@medplum/fhirtypes'
import { FHIR_JSON } from '../../records/index.js'
import { HttpError } from '../outcomes.js'

export type TokenParam = { system?: string; code: string }
export type DateParam = { prefix: 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le'; start: number; end: number }

export type FhirSearch = {
  category: TokenParam[]
  code: TokenParam[]
  date: DateParam[]
}

function tokens(value: string | undefined): TokenParam[] {
  if (!value) return []
  return value.split(',').map((part) => {
    const bar = part.indexOf('|')
    if (bar < 0) return { code: part }
    const system = part.slice(0, bar)
    return system ? { system, code: part.slice(bar + 1) } : { code: part.slice(bar + 1) }
  })
}

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?)?)?$/

/** The instant range a FHIR date or dateTime covers at its own precision: 2024 is all of 2024. */
export function dateRange(value: string): { start: number; end: number } | undefined {
  const m = DATE.exec(value)
  if (!m) return undefined
  const [, y, mo, d] = m
  if (value.includes('T')) {
    const t = Date.parse(value)
    return Number.isNaN(t) ? undefined : { start: t, end: t + 1 }
  }
  const start = Date.UTC(Number(y), mo ? Number(mo) - 1 : 0, d ? Number(d) : 1)
  const end = d
    ? Date.UTC(Number(y), Number(mo) - 1, Number(d) + 1)
    : mo
      ? Date.UTC(Number(y), Number(mo), 1)
      : Date.UTC(Number(y) + 1, 0, 1)
  return { start, end }
}

function dates(values: string[]): DateParam[] {
  return values.map((raw) => {
    const prefixed = /^(eq|ne|gt|lt|ge|le)/.exec(raw)
    const prefix = (prefixed?.[1] ?? 'eq') as DateParam['prefix']
    const range = dateRange(prefixed ? raw.slice(2) : raw)
    if (!range)
      throw new HttpError(400, 'invalid', `"${raw}" is not a FHIR date search value.`, { hint: 'Use e.g. 2024, 2024-03, ge2024-03-01.' })
    return { prefix, ...range }
  })
}

export function parseFhirSearch(query: URLSearchParams): FhirSearch {
  return {
    category: tokens(query.get('category') ?? undefined),
    code: tokens(query.get('code') ?? undefined),
    date: dates(query.getAll('date')),
  }
}

type AnyResource = Resource & Record<string, unknown>

function concepts(resource: AnyResource, ...fields: string[]): CodeableConcept[] {
  return fields.flatMap((f) => {
    const v = resource[f]
    if (!v) return []
    return (Array.isArray(v) ? v : [v]) as CodeableConcept[]
  })
}

function matchesToken(codings: Coding[], wanted: TokenParam[]): boolean {
  return wanted.some((w) => codings.some((c) => c.code === w.code && (w.system === undefined || c.system === w.system)))
}

/** The elements a clinical date is read from, in order: when it happened, then when it was recorded. */
const CLINICAL_DATE_ELEMENTS = [
  'effectiveDateTime',
  'effectiveInstant',
  'occurrenceDateTime',
  'performedDateTime',
  'onsetDateTime',
  'recordedDate',
  'authoredOn',
  'issued',
  'date',
] as const

/** The resource's clinical date: when it happened, else when it was recorded. */
export function clinicalDate(resource: AnyResource): string | undefined {
  for (const f of CLINICAL_DATE_ELEMENTS) {
    if (typeof resource[f] === 'string') return resource[f] as string
  }
  for (const f of ['effectivePeriod', 'performedPeriod', 'period']) {
    const p = resource[f] as { start?: string } | undefined
    if (p?.start) return p.start
  }
  return undefined
}

function matchesDate(value: string | undefined, wanted: DateParam[]): boolean {
  if (wanted.length === 0) return true
  const range = value ? dateRange(value) : undefined
  if (!range) return false
  const t = range.start
  return wanted.every((w) => {
    switch (w.prefix) {
      case 'eq':
        return t >= w.start && t < w.end
      case 'ne':
        return t < w.start || t >= w.end
      case 'gt':
        return t >= w.end
      case 'lt':
        return t < w.start
      case 'ge':
        return t >= w.start
      case 'le':
        return t < w.end
      default:
        return false
    }
  })
}

/**
 * Whether a resource matches. `category` matches the medvault category of its record or the
 * resource's own category codes (e.g. an Observation's `laboratory` or `vital-signs`).
 */
export function matchesSearch(resource: Resource, recordCategory: string, search: FhirSearch): boolean {
  const r = resource as AnyResource
  if (search.category.length > 0) {
    const own = concepts(r, 'category').flatMap((c) => c.coding ?? [])
    if (!search.category.some((w) => w.code === recordCategory && w.system === undefined) && !matchesToken(own, search.category))
      return false
  }
  if (search.code.length > 0) {
    const codings = concepts(r, 'code', 'vaccineCode', 'medicationCodeableConcept', 'type').flatMap((c) => c.coding ?? [])
    if (!matchesToken(codings, search.code)) return false
  }
  return matchesDate(clinicalDate(r), search.date)
}

/** The elements `matchesSearch`, `clinicalDate` and the status of a resource are read from. */
const SEARCHED_ELEMENTS = [
  'resourceType',
  'status',
  'category',
  'code',
  'vaccineCode',
  'medicationCodeableConcept',
  'type',
  ...CLINICAL_DATE_ELEMENTS,
  'effectivePeriod',
  'performedPeriod',
  'period',
] as const

/**
 * A record's searchable fields (type, status, category, codes, clinical date), taken from its
 * content on first decrypt, for the read cache to keep in memory beside it: a search then opens only
 * the records whose fields match. Binaries are `{ resourceType: 'Binary' }`.
 */
export function searchSummary(content: { meta: unknown; bytes: Buffer }): Resource | undefined {
  if ((content.meta as { contentType?: string }).contentType !== FHIR_JSON) return { resourceType: 'Binary' } as Resource
  try {
    const resource = JSON.parse(content.bytes.toString('utf8')) as AnyResource
    return Object.fromEntries(SEARCHED_ELEMENTS.filter((k) => k in resource).map((k) => [k, resource[k]])) as unknown as Resource
  } catch {
    return undefined
  }
}
