/**
 * The FHIR R4 facade: read, search, create, Patient/$everything and transaction import, over
 * records the caller may see per the chain, decrypted and verified on the way out.
 * https://hl7.org/fhir/R4/http.html
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes'
import type { Context } from 'hono'
import { type Address, getAddress, isAddress } from 'viem'
import { encryptionKeyOf } from '../../directory/index.js'
import { InvalidInputError } from '../../errors.js'
import { isFhirResourceType } from '../../fhir/index.js'
import { checkPatientOf, patientAccountOf } from '../../fhir/index.js'
import { type HistoryEntry, assembleHistory, historyBundle, patientResource, recordResource } from '../../history/index.js'
import { issueRecordOnce } from '../../operations/index.js'
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
  audit,
  custodialAccount,
  custodialProvider,
  fhirResponse,
  parseTokenIdParam,
  requestContext,
  sessionOf,
} from '../http.js'
import { HttpError } from '../outcomes.js'
import { visibleRecords } from '../routes/records.js'
import { errorResponses, secured } from '../routes/schemas.js'
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
 * A patient's history as the caller may see it, verified and decrypted with the caller's keys;
 * `select` narrows the visible records before any is opened.
 */
async function historyFor(
  deps: ServerDeps,
  caller: Address,
  patient: Address,
  currentOnly = false,
  select: (records: OnChainRecord[]) => OnChainRecord[] = (records) => records,
) {
  const records = select(await visibleRecords(deps, caller, patient))
  const reader = await custodialAccount(deps, caller)
  return assembleHistory(await requestContext(deps), { patient, reader, records, currentOnly })
}

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
  // Search shows current versions only: a record an amendment replaced is history, not a finding.
  const wanted = query.ids ? new Set(query.ids) : undefined
  // Records this caller opened before are narrowed by their searchable fields, kept in memory
  // since: only the ones that may match are opened (access checked and audited) again.
  const cache = deps.ctx.readCache
  const mayMatch = (r: OnChainRecord): boolean => {
    if (wanted && !wanted.has(r.tokenId)) return false
    const summary = cache?.content(r.tokenId, caller, `${r.cid}:${r.commitment}`)?.summary as Resource | undefined
    if (!summary || summary.resourceType === 'Binary') return true
    return summary.resourceType === params.type && matchesSearch(summary, r.category, search)
  }
  const history = await historyFor(deps, caller, patient, true, (records) => records.filter(mayMatch))
  const matches = history.entries
    .filter((e) => {
      if ((e.resource?.resourceType ?? 'Binary') !== params.type) return false
      if (wanted && !wanted.has(e.record.tokenId)) return false
      return e.resource ? matchesSearch(e.resource, e.record.category, search) : search.code.length === 0
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
    { type: 'searchset', baseUrl: fhirBase, ...chain },
  )
  bundle.total = matches.length
  if (query.elements) {
    const elements = query.elements
    bundle.entry = (bundle.entry ?? []).map(
      (e): BundleEntry =>
        e.resource && e.resource.resourceType !== 'OperationOutcome' ? { ...e, resource: subset(e.resource, elements) } : e,
    )
  }
  const links: BundleLink[] = [{ relation: 'self', url: link(selfCursor) }]
  if (paged.next) links.push({ relation: 'next', url: link(formatCursor('after', paged.next)) })
  if (paged.previous) links.push({ relation: 'previous', url: link(formatCursor('before', paged.previous)) })
  bundle.link = links
  return bundle
}

export function fhirRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps, version: string) {
  const chain = { chainId: deps.ctx.deployment.chainId, records: deps.ctx.deployment.records }
  const fhirBase = `${deps.baseUrl}/fhir`

  app.use('/fhir', async (c, next) => {
    checkFormat(c)
    await next()
  })
  app.use('/fhir/*', async (c, next) => {
    checkFormat(c)
    await next()
  })

  // History and vread are not offered; registered first so `Patient/x/_history` is not read as a compartment search.
  for (const path of ['/fhir/_history', '/fhir/:type/_history', '/fhir/:type/:id/_history', '/fhir/:type/:id/_history/:vid'])
    app.all(path, (c) => notAllowed('', `${c.req.method} ${path.replace('/fhir', '').replace(/:(\w+)/g, '[$1]')} (history)`))

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
        const history = await historyFor(deps, caller, patientId(c.req.valid('param').id))
        const bundle = historyBundle(history, { type: 'searchset', baseUrl: fhirBase, ...chain, includePatient: true })
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
      const caller = sessionOf(c).address
      const { type, id } = c.req.valid('param')
      resourceType(type)
      const tokenId = parseTokenIdParam(id)
      const reader = await deps.keyring.get(caller)
      const ctx = await requestContext(deps)
      if (!reader) {
        // Consent first (audited), so a stranger learns "no consent", not "no keys here".
        await checkReadAccess(ctx, await currentRecord(ctx, tokenId), caller)
        await custodialAccount(deps, caller)
      }
      const { record, meta, bytes } = await readRecord(ctx, { tokenId, reader: reader! })
      const resource = recordResource(
        meta.contentType === FHIR_JSON
          ? { record, meta, resource: JSON.parse(bytes.toString('utf8')) as Resource }
          : { record, meta, binary: bytes },
        chain,
      )
      if (resource.resourceType !== type)
        throw new HttpError(404, 'not-found', `Record ${tokenId} is not a ${type}.`, { hint: `It is a ${resource.resourceType}.` })
      return fhirResponse(c, resource)
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
      const encryptionPublicKey = await encryptionKeyOf(deps.ctx, patient)
      if (!encryptionPublicKey)
        throw new HttpError(422, 'invalid', 'This patient has not published an encryption key, so no record can be sealed for them.')
      const result = await issueRecordOnce(deps.ctx, {
        issuer,
        patient: { address: patient, encryptionPublicKey },
        content: doc.content,
        contentType: doc.contentType,
        category: doc.category,
        sensitivity: doc.sensitivity,
        consent: { standing: true },
        journalDir: deps.operationsDir,
        ...(deps.syncIndex ? { syncIndex: deps.syncIndex } : {}),
      })
      if (result.outcome !== 'done-before')
        await audit(deps, { actor: issuer.address, action: 'issue', tokenId: result.tokenId, patient, outcome: 'allowed' })
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
