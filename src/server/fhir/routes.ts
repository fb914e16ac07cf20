/**
 * The FHIR R4 facade: read, search, create, Patient/$everything and transaction import, over
 * records the caller may see per the chain, decrypted and verified on the way out.
 * https://hl7.org/fhir/R4/http.html
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes'
import type { Context } from 'hono'
import { type Address, getAddress, isAddress } from 'viem'
import { InvalidInputError } from '../../errors.js'
import { type RecordsContext, categoryName, classOf } from '../../core/index.js'
import { isFhirResourceType } from '../../fhir/index.js'
import { checkPatientOf, patientAccountOf } from '../../fhir/index.js'
import {
  type AssembleHistoryReturnType,
  type HistoryEntry,
  type HistoryLinks,
  assembleHistory,
  historyBundle,
  historyLinks,
  patientResource,
  recordResource,
  recordVersions,
} from '../../history/index.js'
import { issueForPatient } from '../issueForPatient.js'
import {
  FHIR_JSON,
  type OnChainRecord,
  checkReadAccess,
  currentRecord,
  documentFromFhir,
  getOnChainRecord,
  readRecord,
} from '../../records/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import {
  FHIR_CONTENT_TYPE,
  custodialAccount,
  custodialProvider,
  fhirResponse,
  parseTokenIdParam,
  requestContext,
  sessionOf,
  viewerTable,
} from '../http.js'
import { HttpError } from '../outcomes.js'
import { visibleRecords } from '../routes/records.js'
import { errorResponses, secured } from '../routes/schemas.js'
import { consentRoutes } from './consent.js'
import { CREATABLE_TYPES, LISTED_TYPES, capabilityStatement } from './capabilityStatement.js'
import { clinicalDate, matchesSearch, parseFhirSearch } from './search.js'
import { type SearchQuery, type SortKey, compareKeys, formatCursor, page, parseSearchQuery, strictHandling } from './searchQuery.js'

const fhirOk = (description: string) => ({ 200: { description: `${description} (application/fhir+json)` } })
const idParam = z.string().openapi({ param: { name: 'id', in: 'path' } })
const typeParam = z.string().openapi({ param: { name: 'type', in: 'path' }, example: 'Observation' })

function patientId(value: string): Address {
  const id = value.replace(/^Patient\//, '')
  if (!isAddress(id))
    throw new HttpError(404, 'not-found', `There is no patient "${value}".`, {
      hint: 'Patients are identified by their account address: Patient/0x…',
    })
  return getAddress(id)
}

function resourceType(value: string): string {
  if (!isFhirResourceType(value)) throw new HttpError(404, 'not-found', `"${value}" is not a FHIR R4 resource type.`)
  return value
}

/**
 * The links of each caller's view of a patient's history, kept while the records it saw stay the
 * same. `at` is the head block the view was last checked at: within one block the index and every
 * consent decision are what they were, so a read at that block need not list the view again.
 */
const LINK_CACHE_SIZE = 64
type CachedLinks = { seen: string; links: HistoryLinks; at: string | undefined }
const linkCaches = new WeakMap<ServerDeps, Map<string, CachedLinks>>()
const seenOf = (records: { tokenId: bigint; supersededBy: bigint }[]) => records.map((r) => `${r.tokenId}:${r.supersededBy}`).join(',')

function cacheLinks(deps: ServerDeps, key: string, value: CachedLinks): void {
  const cache = linkCaches.get(deps) ?? new Map<string, CachedLinks>()
  linkCaches.set(deps, cache)
  cache.delete(key)
  cache.set(key, value)
  if (cache.size > LINK_CACHE_SIZE) cache.delete(cache.keys().next().value!)
}

/** The hash of the head block a request's context is pinned to, or undefined without a read cache. */
async function pinnedAt(ctx: RecordsContext): Promise<string | undefined> {
  return ctx.readCache ? (await ctx.readCache.head()).hash : undefined
}

/**
 * A patient's history as the caller may see it (every version), verified and decrypted with the
 * caller's keys, and its links (kept for later reads of single resources). `select` narrows the
 * records opened (a search's candidates); the links then come from the whole history, cached.
 * The view is listed and opened at one head block (`ctx`, pinned).
 */
async function historyFor(
  deps: ServerDeps,
  caller: Address,
  patient: Address,
  select?: (record: OnChainRecord) => boolean,
  pinned?: RecordsContext,
  listed?: OnChainRecord[],
): Promise<{ history: AssembleHistoryReturnType; links: HistoryLinks }> {
  const ctx = pinned ?? (await requestContext(deps))
  const records = listed ?? (await visibleRecords(deps, caller, patient, ctx))
  const reader = await custodialAccount(deps, caller)
  const history = await assembleHistory(ctx, { patient, reader, records, ...(select && { select }) })
  if (select) return { history, links: await linksFor(deps, ctx, caller, history.patient, records) }
  const links = historyLinks(history, { ...chainOf(deps), baseUrl: `${deps.baseUrl}/fhir` })
  cacheLinks(deps, `${caller}|${history.patient}`, { seen: seenOf(records), links, at: await pinnedAt(ctx) })
  return { history, links }
}

/** The links a single read resolves its references with: the cached ones while the caller's view is unchanged. */
async function linksFor(
  deps: ServerDeps,
  ctx: RecordsContext,
  caller: Address,
  patient: Address,
  visible?: OnChainRecord[],
): Promise<HistoryLinks> {
  const cached = linkCaches.get(deps)?.get(`${caller}|${patient}`)
  const at = await pinnedAt(ctx)
  if (cached && !visible && at !== undefined && cached.at === at) return cached.links
  // Listed once per request: a changed view is assembled from the same list (one audit entry).
  const listed = visible ?? (cached ? await visibleRecords(deps, caller, patient, ctx) : undefined)
  if (cached && listed && cached.seen === seenOf(listed)) {
    cached.at = at
    return cached.links
  }
  // Concurrent reads at one block share one assembly: one opening (and audit entry) per record.
  const key = `${caller}|${patient}|${at}`
  const assembling = linksInFlight.get(key) ?? historyFor(deps, caller, patient, undefined, ctx, listed).then((h) => h.links)
  if (at !== undefined && !linksInFlight.has(key)) {
    linksInFlight.set(key, assembling)
    void assembling.catch(() => undefined).finally(() => linksInFlight.delete(key))
  }
  return assembling
}
const linksInFlight = new Map<string, Promise<HistoryLinks>>()

const chainOf = (deps: ServerDeps) => ({ chainId: deps.ctx.deployment.chainId, records: deps.ctx.deployment.records })

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json'])

/**
 * JSON is the only format served (https://hl7.org/fhir/R4/http.html#mime-type): `_format` or an
 * Accept header that names only other formats is a 406, an XML body a 415.
 */
function checkFormat(c: Context<ServerEnv>): void {
  const format = new URL(c.req.url).searchParams.get('_format')
  if (format !== null && !JSON_FORMATS.has(format.split(';')[0]!.trim().toLowerCase()))
    throw new HttpError(406, 'not-supported', 'This server serves FHIR as JSON only.', { hint: 'Use _format=json or leave _format out.' })
  const accept = c.req.header('accept')
  if (accept) {
    const types = accept.split(',').map((part) => part.split(';')[0]!.trim().toLowerCase())
    const jsonOk = types.some((t) => t === '*/*' || t === 'application/*' || JSON_FORMATS.has(t) || t === '')
    if (!jsonOk)
      throw new HttpError(406, 'not-supported', 'This server serves FHIR as JSON only.', {
        hint: 'Send Accept: application/fhir+json.',
      })
  }
  const contentType = c.req.header('content-type')
  if (contentType && /xml|turtle/i.test(contentType))
    throw new HttpError(415, 'not-supported', 'This server takes FHIR as JSON only.', { hint: 'Send the body as application/fhir+json.' })
}

function notAllowed(allow: string, what: string): never {
  throw new HttpError(405, 'not-supported', `${what} is not supported by this server.`, {
    hint: 'Records are immutable: correct one by issuing an amendment (medvault record amend, or POST /api/records with supersedes). See GET /fhir/metadata.',
    headers: { allow },
  })
}

/** The parameters of a search, from the query string and, for POST _search, the form body. */
async function searchParams(c: Context<ServerEnv>): Promise<[string, string][]> {
  const params = [...new URL(c.req.url).searchParams.entries()]
  if (c.req.method === 'POST') {
    const type = c.req.header('content-type') ?? ''
    if (!type.startsWith('application/x-www-form-urlencoded'))
      throw new HttpError(415, 'not-supported', 'POST _search takes its parameters as application/x-www-form-urlencoded.')
    params.push(...new URLSearchParams(await c.req.text()).entries())
  }
  return params
}

function sortKey(entry: HistoryEntry, by: SearchQuery['sort']['by']): SortKey {
  if (by === 'id' || !entry.resource) return { value: by === 'id' ? 0 : null, tokenId: entry.record.tokenId }
  const date = clinicalDate(entry.resource as Resource & Record<string, unknown>)
  const t = date ? Date.parse(date.length === 4 ? `${date}-01-01` : date.length === 7 ? `${date}-01` : date) : Number.NaN
  return { value: Number.isNaN(t) ? null : t, tokenId: entry.record.tokenId }
}

/** `_elements`: the listed top-level elements and the mandatory ones, marked SUBSETTED (https://hl7.org/fhir/R4/search.html#elements). */
function subset(resource: Resource, elements: string[]): Resource {
  const keep = new Set(['resourceType', 'id', 'meta', ...elements])
  const out = Object.fromEntries(Object.entries(resource).filter(([k]) => keep.has(k))) as Resource
  out.meta = {
    ...resource.meta,
    tag: [...(resource.meta?.tag ?? []), { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }],
  }
  return out
}

/** A type search (or a Patient compartment search) as a paged searchset Bundle. */
async function searchBundle(
  c: Context<ServerEnv>,
  deps: ServerDeps,
  params: { type: string; compartment?: Address; path: string },
): Promise<Bundle> {
  if (params.type === 'Patient') notAllowed('GET', 'Searching for Patients')
  const caller = sessionOf(c).address
  const fhirBase = `${deps.baseUrl}/fhir`
  const chain = { chainId: deps.ctx.deployment.chainId, records: deps.ctx.deployment.records }
  const query = parseSearchQuery(await searchParams(c), strictHandling(c.req.header('prefer')))
  const search = parseFhirSearch(query.filters)
  const patientParam = query.filters.get('patient') ?? query.filters.get('subject')
  if (params.compartment && patientParam && patientId(patientParam) !== params.compartment)
    throw new HttpError(400, 'invalid', 'The patient parameter names another patient than the compartment.')
  const patient = params.compartment ?? (patientParam ? patientId(patientParam) : caller)
  // Search shows current versions only: a version an amendment replaced is history, not a finding.
  const wanted = query.ids ? new Set(query.ids) : undefined
  // Records this caller opened before are narrowed by their searchable fields, kept in memory
  // since: only the ones that may match are opened (access checked and audited) again.
  const cache = deps.ctx.readCache
  // The index holds tags, not categories: the caller's table maps them, where it has one.
  const table = await viewerTable(deps, caller, patient)
  const mayMatch = (r: OnChainRecord): boolean => {
    // Superseded versions are never findings; `_id` names logical ids, checked once opened.
    if (r.supersededBy !== 0n) return false
    const summary = cache?.content(r.tokenId, caller, `${r.cid}:${r.commitment}`)?.summary as Resource | undefined
    if (!summary || summary.resourceType === 'Binary') return true
    const category = table ? classOf(table, r.tag)?.category : undefined
    // A tag the caller cannot map is decided once opened, by the record's signed category.
    if (!category && search.category.length > 0) return summary.resourceType === params.type
    return summary.resourceType === params.type && matchesSearch(summary, category ?? 'unknown', search)
  }
  const { history, links } = await historyFor(deps, caller, patient, mayMatch)
  const matches = history.entries
    .filter((e) => {
      if (e.record.supersededBy !== 0n) return false
      if ((e.resource?.resourceType ?? 'Binary') !== params.type) return false
      if (wanted && !wanted.has(e.version?.logicalId ?? e.record.tokenId)) return false
      // The signed envelope names the record's category: whoever opened it knows it without a tag table.
      return e.resource ? matchesSearch(e.resource, categoryName(e.meta.category), search) : search.code.length === 0
    })
    .map((entry) => ({ entry, key: sortKey(entry, query.sort.by) }))
    .sort((a, b) => compareKeys(a.key, b.key, query.sort.descending))

  const link = (cursor?: string): string => {
    const qs = new URLSearchParams(query.applied)
    if (cursor) qs.set('_cursor', cursor)
    const s = qs.toString()
    return `${fhirBase}/${params.path}${s ? `?${s}` : ''}`
  }
  if (query.summaryCount) {
    return { resourceType: 'Bundle', type: 'searchset', total: matches.length, link: [{ relation: 'self', url: link() }] }
  }
  const selfCursor = new URL(c.req.url).searchParams.get('_cursor') ?? undefined
  const paged = page(matches, (m) => m.key, query)
  const bundle = historyBundle(
    { ...history, entries: paged.items.map((m) => m.entry), failures: query.cursor ? [] : history.failures },
    { type: 'searchset', baseUrl: fhirBase, ...chain, links },
  )
  bundle.total = matches.length
  if (query.elements) {
    const elements = query.elements
    bundle.entry = (bundle.entry ?? []).map(
      (e): BundleEntry =>
        e.resource && e.resource.resourceType !== 'OperationOutcome' ? { ...e, resource: subset(e.resource, elements) } : e,
    )
  }
  const paging: BundleLink[] = [{ relation: 'self', url: link(selfCursor) }]
  if (paged.next) paging.push({ relation: 'next', url: link(formatCursor('after', paged.next)) })
  if (paged.previous) paging.push({ relation: 'previous', url: link(formatCursor('before', paged.previous)) })
  bundle.link = paging
  return bundle
}

export function fhirRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps, version: string) {
  const chain = { chainId: deps.ctx.deployment.chainId, records: deps.ctx.deployment.records }
  const fhirBase = `${deps.baseUrl}/fhir`

  /** The versions of the logical resource `[type]/[id]` names; the id must be its logical id. */
  async function versionsFor(type: string, id: string) {
    resourceType(type)
    const tokenId = parseTokenIdParam(id)
    const line = await recordVersions(await requestContext(deps), tokenId)
    const logicalId = line[0]!.tokenId
    if (logicalId !== tokenId)
      throw new HttpError(404, 'not-found', `Record ${tokenId} is not a logical id: it is a later version of ${type}/${logicalId}.`, {
        hint: `Read ${type}/${logicalId} (its current version) or ${type}/${logicalId}/_history.`,
      })
    return { logicalId, versions: line.map((record, index) => ({ record, index })) }
  }

  /** One version of a record as the caller may read it, its references resolved within the patient's history. */
  async function serveVersion(caller: Address, type: string, tokenId: bigint, logicalId: bigint, versionId: number) {
    const reader = await deps.keyring.get(caller)
    const ctx = await requestContext(deps)
    if (!reader) {
      // Consent first (audited), so a stranger learns "no consent", not "no keys here".
      await checkReadAccess(ctx, await currentRecord(ctx, tokenId), caller)
      await custodialAccount(deps, caller)
    }
    const { record, meta, bytes } = await readRecord(ctx, { tokenId, reader: reader! })
    const entry: HistoryEntry =
      meta.contentType === FHIR_JSON
        ? { record, meta, resource: JSON.parse(bytes.toString('utf8')) as Resource }
        : { record, meta, binary: bytes }
    const served = entry.resource?.resourceType ?? 'Binary'
    if (served !== type) throw new HttpError(404, 'not-found', `Record ${logicalId} is not a ${type}.`, { hint: `It is a ${served}.` })
    const links = await linksFor(deps, ctx, caller, record.owner)
    const version = { logicalId, versionId, superseded: record.supersededBy !== 0n }
    return { resource: recordResource({ ...entry, version }, chain, links), record, versionId }
  }

  /** A read or vread: the resource with its ETag and Last-Modified, or 304 when If-None-Match names this version. */
  function versionResponse(c: Context<ServerEnv>, v: { resource: Resource; record: { issuedAt: Date }; versionId: number }): Response {
    const etag = `W/"${v.versionId}"`
    const headers = { etag, 'last-modified': v.record.issuedAt.toUTCString() }
    const ifNoneMatch = c.req.header('if-none-match')
    if (ifNoneMatch?.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${v.versionId}"` || t.trim() === '*'))
      return c.body(null, 304, headers)
    return c.body(JSON.stringify(v.resource), 200, { ...headers, 'content-type': FHIR_CONTENT_TYPE })
  }

  app.use('/fhir', async (c, next) => {
    checkFormat(c)
    await next()
  })
  app.use('/fhir/*', async (c, next) => {
    checkFormat(c)
    await next()
  })

  consentRoutes(app, deps)

  // Instance history and vread (https://hl7.org/fhir/R4/http.html#history, #vread); type and system
  // history are not offered. Registered first so `Patient/x/_history` is not read as a compartment search.
  app.get('/fhir/:type/:id/_history', async (c) => {
    const { type, id } = c.req.param()
    if (type === 'Patient') notAllowed('', 'History of a Patient')
    const { versions, logicalId } = await versionsFor(type, id)
    const caller = sessionOf(c).address
    const served = await Promise.all(versions.map((v) => serveVersion(caller, type, v.record.tokenId, logicalId, v.index + 1)))
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'history',
      timestamp: new Date().toISOString(),
      total: served.length,
      link: [{ relation: 'self', url: `${fhirBase}/${type}/${logicalId}/_history` }],
      entry: served.reverse().map(
        ({ resource, record, versionId }): BundleEntry => ({
          fullUrl: `${fhirBase}/${type}/${logicalId}`,
          resource,
          request: versionId === 1 ? { method: 'POST', url: type } : { method: 'PUT', url: `${type}/${logicalId}` },
          response: {
            status: versionId === 1 ? '201' : '200',
            etag: `W/"${versionId}"`,
            lastModified: record.issuedAt.toISOString(),
          },
        }),
      ),
    }
    return fhirResponse(c, bundle)
  })
  app.get('/fhir/:type/:id/_history/:vid', async (c) => {
    const { type, id, vid } = c.req.param()
    if (type === 'Patient') notAllowed('', 'vread of a Patient')
    const { versions, logicalId } = await versionsFor(type, id)
    const n = /^[1-9]\d{0,5}$/.test(vid) ? Number(vid) : 0
    const version = versions[n - 1]
    if (!version)
      throw new HttpError(404, 'not-found', `${type}/${logicalId} has no version "${vid}".`, {
        hint: `Its versions are 1 to ${versions.length}.`,
      })
    return versionResponse(c, await serveVersion(sessionOf(c).address, type, version.record.tokenId, logicalId, n))
  })
  for (const path of ['/fhir/_history', '/fhir/:type/_history', '/fhir/:type/:id/_history', '/fhir/:type/:id/_history/:vid'])
    app.all(path, (c) =>
      notAllowed(path.includes(':id') ? 'GET' : '', `${c.req.method} ${path.replace('/fhir', '').replace(/:(\w+)/g, '[$1]')} (history)`),
    )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/fhir/metadata',
      summary: 'The CapabilityStatement',
      tags: ['fhir'],
      responses: fhirOk('CapabilityStatement'),
    }),
    (c) => fhirResponse(c, capabilityStatement(deps.baseUrl, version)),
  )

  // $everything takes GET, and POST with an (empty) Parameters body, as FHIR operations do.
  for (const method of ['get', 'post'] as const) {
    app.openapi(
      createRoute({
        method,
        path: '/fhir/Patient/{id}/$everything',
        summary: "Everything the caller may see of a patient's history, verified and decrypted, as a searchset Bundle",
        tags: ['fhir'],
        ...secured,
        request: { params: z.object({ id: idParam }) },
        responses: { ...fhirOk('Bundle'), ...errorResponses },
      }),
      async (c) => {
        const caller = sessionOf(c).address
        const { history, links } = await historyFor(deps, caller, patientId(c.req.valid('param').id))
        const bundle = historyBundle(history, { type: 'searchset', baseUrl: fhirBase, ...chain, includePatient: true, links })
        bundle.link = [{ relation: 'self', url: `${fhirBase}/Patient/${history.patient}/$everything` }]
        return fhirResponse(c, bundle)
      },
    )
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/fhir/Patient/{id}',
      summary: 'The Patient a medvault account stands for (no demographics)',
      tags: ['fhir'],
      ...secured,
      request: { params: z.object({ id: idParam }) },
      responses: { ...fhirOk('Patient'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const patient = patientId(c.req.valid('param').id)
      if (caller !== patient) await visibleRecords(deps, caller, patient)
      return fhirResponse(c, patientResource(patient, chain.chainId))
    },
  )

  // Patient compartment search: https://hl7.org/fhir/R4/compartmentdefinition-patient.html
  for (const method of ['get', 'post'] as const) {
    app.openapi(
      createRoute({
        method,
        path: method === 'get' ? '/fhir/Patient/{id}/{type}' : '/fhir/Patient/{id}/{type}/_search',
        summary: "Search one resource type in a patient's compartment",
        tags: ['fhir'],
        ...secured,
        request: { params: z.object({ id: idParam, type: typeParam }) },
        responses: { ...fhirOk('A searchset Bundle'), ...errorResponses },
      }),
      async (c) => {
        const { id, type } = c.req.valid('param')
        const patient = patientId(id)
        resourceType(type)
        return fhirResponse(c, await searchBundle(c, deps, { type, compartment: patient, path: `Patient/${patient}/${type}` }))
      },
    )
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/fhir/{type}/{id}',
      summary: 'Read one record as a FHIR resource; its id is the token id',
      tags: ['fhir'],
      ...secured,
      request: { params: z.object({ type: typeParam, id: idParam }) },
      responses: { ...fhirOk('The resource'), ...errorResponses },
    }),
    async (c) => {
      const { type, id } = c.req.valid('param')
      const { versions, logicalId } = await versionsFor(type, id)
      const latest = versions.at(-1)!
      return versionResponse(c, await serveVersion(sessionOf(c).address, type, latest.record.tokenId, logicalId, versions.length))
    },
  )

  for (const method of ['get', 'post'] as const) {
    app.openapi(
      createRoute({
        method,
        path: method === 'get' ? '/fhir/{type}' : '/fhir/{type}/_search',
        summary:
          'Search one resource type by patient, category, code, date and _id; _count, _sort, _summary=count and _elements; paged by next/previous links',
        tags: ['fhir'],
        ...secured,
        request: { params: z.object({ type: typeParam }) },
        responses: { ...fhirOk('A searchset Bundle'), ...errorResponses },
      }),
      async (c) => {
        const type = resourceType(c.req.valid('param').type)
        return fhirResponse(c, await searchBundle(c, deps, { type, path: type }))
      },
    )
  }

  // create: https://hl7.org/fhir/R4/http.html#create
  app.openapi(
    createRoute({
      method: 'post',
      path: '/fhir/{type}',
      summary:
        'Create: issue one resource as a record of the patient its subject (or patient) names, a provider under standing authorisation',
      tags: ['fhir'],
      ...secured,
      request: { params: z.object({ type: typeParam }) },
      responses: { 201: { description: 'Created: Location, ETag and the resource' }, ...errorResponses },
    }),
    async (c) => {
      const type = resourceType(c.req.valid('param').type)
      if (!(CREATABLE_TYPES as readonly string[]).includes(type)) notAllowed('GET', `Creating a ${type}`)
      const issuer = await custodialProvider(deps, sessionOf(c).address)
      let json: unknown
      try {
        json = JSON.parse(await c.req.text())
      } catch {
        throw new HttpError(400, 'structure', 'The request body is not JSON.', {
          hint: 'Send a FHIR R4 resource as application/fhir+json.',
        })
      }
      if (typeof json !== 'object' || json === null || (json as { resourceType?: unknown }).resourceType !== type)
        throw new HttpError(400, 'invalid', `POST /fhir/${type} takes a ${type} resource.`, {
          hint: 'Its resourceType must match the URL.',
        })
      const doc = documentFromFhir(JSON.stringify(json))
      const patient = patientAccountOf(json, chain.chainId)
      if (!patient)
        throw new InvalidInputError(`The ${type} does not say which patient it is for.`, {
          hint: 'Set its subject (or patient) to the patient: {"reference": "Patient/0x…"}.',
        })
      checkPatientOf(json, patient, chain.chainId)
      const result = await issueForPatient(deps, { issuer, patient, doc })
      const record = await getOnChainRecord(deps.ctx, result.tokenId)
      // The resource as stored (canonical form), served as a read would serve it.
      const stored = 'bytes' in doc.content ? (JSON.parse(Buffer.from(doc.content.bytes).toString('utf8')) as Resource) : undefined
      const resource = recordResource({ record, meta: { contentType: FHIR_JSON } as never, ...(stored ? { resource: stored } : {}) }, chain)
      const headers = {
        'content-type': FHIR_CONTENT_TYPE,
        location: `${fhirBase}/${type}/${result.tokenId}`,
        etag: 'W/"1"',
        'last-modified': record.issuedAt.toUTCString(),
      }
      const minimal = /return=minimal/i.test(c.req.header('prefer') ?? '')
      const status = result.outcome === 'done-before' ? 200 : 201
      return minimal ? c.body(null, status, headers) : c.body(JSON.stringify(resource), status, headers)
    },
  )

  // Records are immutable and the patient's own: no update, patch or delete (https://hl7.org/fhir/R4/http.html#general: 405).
  app.on(['PUT', 'PATCH', 'DELETE'], '/fhir/:type/:id', (c) => notAllowed('GET', `${c.req.method} on a resource`))
  app.on(['PUT', 'PATCH', 'DELETE'], '/fhir/:type', (c) =>
    notAllowed(LISTED_TYPES.includes(c.req.param('type') as never) ? 'GET, POST' : 'GET', `${c.req.method} on a resource type`),
  )
  // System-level search and history are not offered; POST [base] is the transaction/batch endpoint.
  app.on(['GET', 'PUT', 'PATCH', 'DELETE'], '/fhir', (c) => notAllowed('POST', `${c.req.method} [base]`))
}
