/**
 * The FHIR R4 facade: read, search, Patient/$everything and transaction import, over records the
 * caller may see per the chain, decrypted and verified on the way out. https://hl7.org/fhir/R4/http.html
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Bundle, Resource } from '@medplum/fhirtypes'
import { type Address, getAddress, isAddress } from 'viem'
import { isFhirResourceType } from '../../fhir/index.js'
import { assembleHistory, historyBundle, patientResource, recordResource } from '../../history/index.js'
import { FHIR_JSON, getOnChainRecord, checkReadAccess, readRecord } from '../../records/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { custodialAccount, fhirResponse, parseTokenIdParam, sessionOf } from '../http.js'
import { HttpError } from '../outcomes.js'
import { visibleRecords } from '../routes/records.js'
import { errorResponses, secured } from '../routes/schemas.js'
import { capabilityStatement } from './capabilityStatement.js'
import { matchesSearch, parseFhirSearch } from './search.js'

const fhirOk = (description: string) => ({ 200: { description: `${description} (application/fhir+json)` } })

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

/** A patient's history as the caller may see it, verified and decrypted with the caller's keys. */
async function historyFor(deps: ServerDeps, caller: Address, patient: Address) {
  const records = await visibleRecords(deps, caller, patient)
  const reader = await custodialAccount(deps, caller)
  return assembleHistory(deps.ctx, { patient, reader, records })
}

export function fhirRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps, version: string) {
  const chain = { chainId: deps.ctx.deployment.chainId, records: deps.ctx.deployment.records }
  const fhirBase = `${deps.baseUrl}/fhir`

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
        request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
        responses: { ...fhirOk('Bundle'), ...errorResponses },
      }),
      async (c) => {
        const caller = sessionOf(c).address
        const history = await historyFor(deps, caller, patientId(c.req.valid('param').id))
        return fhirResponse(c, historyBundle(history, { type: 'searchset', baseUrl: fhirBase, ...chain, includePatient: true }))
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
      request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { ...fhirOk('Patient'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const patient = patientId(c.req.valid('param').id)
      if (caller !== patient) await visibleRecords(deps, caller, patient)
      return fhirResponse(c, patientResource(patient, chain.chainId))
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/fhir/{type}/{id}',
      summary: 'Read one record as a FHIR resource; its id is the token id',
      tags: ['fhir'],
      ...secured,
      request: {
        params: z.object({
          type: z.string().openapi({ param: { name: 'type', in: 'path' }, example: 'Observation' }),
          id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: '7' }),
        }),
      },
      responses: { ...fhirOk('The resource'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const { type, id } = c.req.valid('param')
      resourceType(type)
      const tokenId = parseTokenIdParam(id)
      const reader = await deps.keyring.get(caller)
      if (!reader) {
        // Consent first (audited), so a stranger learns "no consent", not "no keys here".
        await checkReadAccess(deps.ctx, await getOnChainRecord(deps.ctx, tokenId), caller)
        await custodialAccount(deps, caller)
      }
      const { record, meta, bytes } = await readRecord(deps.ctx, { tokenId, reader: reader! })
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

  app.openapi(
    createRoute({
      method: 'get',
      path: '/fhir/{type}',
      summary: 'Search one resource type by patient, category, code and date',
      tags: ['fhir'],
      ...secured,
      request: {
        params: z.object({ type: z.string().openapi({ param: { name: 'type', in: 'path' }, example: 'Observation' }) }),
        query: z.object({
          patient: z.string().optional(),
          subject: z.string().optional(),
          category: z.string().optional(),
          code: z.string().optional(),
          date: z.union([z.string(), z.array(z.string())]).optional(),
        }),
      },
      responses: { ...fhirOk('A searchset Bundle'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const type = resourceType(c.req.valid('param').type)
      const url = new URL(c.req.url)
      const search = parseFhirSearch(url.searchParams)
      const patientParam = url.searchParams.get('patient') ?? url.searchParams.get('subject')
      const patient = patientParam ? patientId(patientParam) : caller
      const history = await historyFor(deps, caller, patient)
      const entries = history.entries.filter((e) => {
        const resourceTypeOf = e.resource?.resourceType ?? 'Binary'
        return resourceTypeOf === type && (e.resource ? matchesSearch(e.resource, e.record.category, search) : search.code.length === 0)
      })
      const bundle: Bundle = historyBundle({ ...history, entries }, { type: 'searchset', baseUrl: fhirBase, ...chain })
      bundle.link = [{ relation: 'self', url: `${fhirBase}/${type}${url.search}` }]
      return fhirResponse(c, bundle)
    },
  )
}
