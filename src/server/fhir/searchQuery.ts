/**
 * The parameters of a FHIR search request, sorted into what this server applies and what it does
 * not: https://hl7.org/fhir/R4/search.html#errors. A parameter it does not support is refused
 * under `Prefer: handling=strict` and otherwise left out of the self link, so the client can see
 * it was not applied. Paging is by a cursor on the sort key and the token id, never an offset, so
 * a record issued while a client pages neither repeats nor skips an entry.
 */
import { HttpError } from '../outcomes.js'

/** Search parameters applied to every resource type, without modifiers. */
export const SEARCH_PARAMETERS = ['patient', 'subject', 'category', 'code', 'date', '_id'] as const
/** Result parameters (https://hl7.org/fhir/R4/search.html#return) and the values this server applies. */
export const RESULT_PARAMETERS = ['_count', '_summary', '_elements', '_sort'] as const
export const SUMMARY_VALUES = ['count', 'false'] as const
export const SORT_VALUES = ['date', '-date', '_id', '-_id'] as const
/** Default and largest page sizes. */
export const DEFAULT_COUNT = 50
export const MAX_COUNT = 500

/** `_cursor`: the server's own paging parameter, in the links it hands out. `_format` is checked by the content negotiation. */
const SERVER_PARAMETERS = ['_cursor', '_format'] as const

export type SortKey = { value: number | null; tokenId: bigint }

export type SearchQuery = {
  /** The parameters applied, in request order: what the self link shows. */
  applied: [string, string][]
  /** The filters, as URLSearchParams for parseFhirSearch. */
  filters: URLSearchParams
  ids: bigint[] | undefined
  count: number
  summaryCount: boolean
  elements: string[] | undefined
  sort: { by: 'date' | 'id'; descending: boolean }
  cursor: { direction: 'after' | 'before'; key: SortKey } | undefined
}

/** `Prefer: handling=strict` (RFC 7240; https://hl7.org/fhir/R4/http.html#prefer). */
export function strictHandling(prefer: string | undefined): boolean {
  return (prefer ?? '').split(',').some((p) => p.trim().toLowerCase().replace(/\s/g, '') === 'handling=strict')
}

function unsupported(message: string, hint: string): HttpError {
  return new HttpError(400, 'not-supported', message, { hint })
}

const ELEMENT = /^[a-z][A-Za-z0-9]{0,63}$/

/**
 * Sorts the request's parameters. Under strict handling an unknown parameter, a modifier or an
 * unsupported value is a 400; otherwise it is dropped. A malformed value of a supported
 * parameter (`_count=abc`) is a 400 either way: the client meant it.
 */
export function parseSearchQuery(params: [string, string][], strict: boolean): SearchQuery {
  const query: SearchQuery = {
    applied: [],
    filters: new URLSearchParams(),
    ids: undefined,
    count: DEFAULT_COUNT,
    summaryCount: false,
    elements: undefined,
    sort: { by: 'id', descending: false },
    cursor: undefined,
  }
  const refuse = (message: string, hint: string) => {
    if (strict) throw unsupported(message, hint)
  }
  const supportedHint = `This server searches by ${SEARCH_PARAMETERS.join(', ')} (no modifiers) and takes ${RESULT_PARAMETERS.join(', ')}.`
  for (const [rawName, value] of params) {
    const [name = '', modifier] = rawName.split(':', 2)
    if ((SERVER_PARAMETERS as readonly string[]).includes(name) && modifier === undefined) {
      if (name === '_cursor') query.cursor = parseCursor(value)
      continue
    }
    const isSearch = (SEARCH_PARAMETERS as readonly string[]).includes(name)
    const isResult = (RESULT_PARAMETERS as readonly string[]).includes(name)
    if (!isSearch && !isResult) {
      // The name is the client's own text but not health data; still, only a FHIR-looking name is echoed.
      refuse(`The search parameter ${/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(name) ? `"${name}" ` : ''}is not supported.`, supportedHint)
      continue
    }
    if (modifier !== undefined) {
      refuse(`Search modifiers are not supported (${/^[a-z-]{1,32}$/.test(modifier) ? `:${modifier} on ` : ''}${name}).`, supportedHint)
      continue
    }
    switch (name) {
      case '_count': {
        if (!/^\d{1,6}$/.test(value) || Number(value) < 1)
          throw new HttpError(400, 'invalid', '_count must be a whole number of at least 1.', {
            hint: `e.g. _count=20 (at most ${MAX_COUNT}).`,
          })
        query.count = Math.min(Number(value), MAX_COUNT)
        break
      }
      case '_summary': {
        if (!(SUMMARY_VALUES as readonly string[]).includes(value)) {
          refuse('Only _summary=count and _summary=false are supported.', 'Use _elements to ask for fewer elements.')
          continue
        }
        query.summaryCount = value === 'count'
        break
      }
      case '_elements': {
        const elements = value.split(',').map((e) => e.trim())
        if (elements.some((e) => !ELEMENT.test(e)))
          throw new HttpError(400, 'invalid', '_elements takes a comma-separated list of top-level element names.', {
            hint: 'e.g. _elements=code,valueQuantity',
          })
        query.elements = elements
        break
      }
      case '_sort': {
        if (!(SORT_VALUES as readonly string[]).includes(value)) {
          refuse('This server sorts by date or _id only.', `Use _sort=${SORT_VALUES.join(' or _sort=')}.`)
          continue
        }
        query.sort = { by: value.endsWith('date') ? 'date' : 'id', descending: value.startsWith('-') }
        break
      }
      case '_id': {
        const ids = value.split(',')
        // A token id is the only id a record has; anything else matches nothing.
        query.ids = [...(query.ids ?? []), ...ids.filter((id) => /^[1-9]\d{0,30}$/.test(id)).map(BigInt)]
        break
      }
      default:
        query.filters.append(name, value)
    }
    query.applied.push([name, value])
  }
  return query
}

/** Orders two keys as the sort asks: the sort value (resources without one last), then the token id. */
export function compareKeys(a: SortKey, b: SortKey, descending: boolean): number {
  let order = 0
  if (a.value !== b.value) {
    if (a.value === null) return 1
    if (b.value === null) return -1
    order = a.value < b.value ? -1 : 1
  } else {
    order = a.tokenId === b.tokenId ? 0 : a.tokenId < b.tokenId ? -1 : 1
  }
  return descending ? -order : order
}

export function formatCursor(direction: 'after' | 'before', key: SortKey): string {
  return `${direction}.${key.value ?? 'none'}.${key.tokenId}`
}

function parseCursor(value: string): SearchQuery['cursor'] {
  const m = /^(after|before)\.(-?\d{1,16}|none)\.([1-9]\d{0,30})$/.exec(value)
  if (!m)
    throw new HttpError(400, 'invalid', 'The _cursor parameter is not one this server handed out.', {
      hint: 'Follow the next and previous links of a search Bundle as they are.',
    })
  return { direction: m[1] as 'after' | 'before', key: { value: m[2] === 'none' ? null : Number(m[2]), tokenId: BigInt(m[3]!) } }
}

/**
 * One page of `items` (already sorted) as the cursor asks, with the keys of the pages either side
 * when there are any.
 */
export function page<T>(
  items: T[],
  keyOf: (item: T) => SortKey,
  query: Pick<SearchQuery, 'count' | 'cursor' | 'sort'>,
): { items: T[]; next?: SortKey; previous?: SortKey } {
  const { cursor, count } = query
  const cmp = (a: SortKey, b: SortKey) => compareKeys(a, b, query.sort.descending)
  let start = 0
  let end = Math.min(count, items.length)
  if (cursor?.direction === 'after') {
    start = items.findIndex((item) => cmp(keyOf(item), cursor.key) > 0)
    if (start < 0) start = items.length
    end = Math.min(start + count, items.length)
  } else if (cursor?.direction === 'before') {
    end = items.findIndex((item) => cmp(keyOf(item), cursor.key) >= 0)
    if (end < 0) end = items.length
    start = Math.max(0, end - count)
  }
  const slice = items.slice(start, end)
  return {
    items: slice,
    ...(end < items.length && slice.length > 0 ? { next: keyOf(slice[slice.length - 1]!) } : {}),
    ...(start > 0 && slice.length > 0 ? { previous: keyOf(slice[0]!) } : {}),
  }
}
