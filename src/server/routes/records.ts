import { checkPatientOf } from '../../fhir/index.js'
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { type Address, getAddress } from 'viem'
import { canAccessNow } from '../../consent/index.js'
import { type RecordsContext, type TagTable, classOf, parseCategory, requiredSensitivity } from '../../core/index.js'
import { documentFromFhir, type OnChainRecord, getOnChainRecord, checkReadAccess, openRecord, verifyRecord } from '../../records/index.js'
import { getProvider } from '../../directory/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import {
  audit,
  custodialAccount,
  custodialProvider,
  jsonResponse,
  parseTokenIdParam,
  requestContext,
  sessionOf,
  viewerTable,
} from '../http.js'
import { checkIdempotencyKey } from '../idempotency.js'
import { type IssueForPatientParameters, issueForPatient } from '../issueForPatient.js'
import { HttpError } from '../outcomes.js'
import { addressSchema, errorResponses, jsonBody, jsonOk, secured } from './schemas.js'

/** Envelopes per page of GET /api/patients/{patient}/envelopes: a few MB of JSON at most. */
const ENVELOPE_PAGE_MAX = 250

const tokenParam = z.object({ tokenId: z.string().openapi({ param: { name: 'tokenId', in: 'path' }, example: '7' }) })
const patientParam = z.object({ patient: addressSchema.openapi({ param: { name: 'patient', in: 'path' } }) })

/**
 * A record's metadata for the caller. The chain holds only the patient's tag: the category and
 * flags come from the caller's table of the patient's tags ("unknown" and null without one; a
 * client holding its own keys maps `tag` itself).
 */
function summary(record: OnChainRecord, issuerName: string, table: TagTable | undefined) {
  const cls = table ? classOf(table, record.tag) : undefined
  return {
    tokenId: record.tokenId,
    patient: record.owner,
    issuer: record.issuer,
    issuerName,
    issuedAt: record.issuedAt.toISOString(),
    tag: record.tag,
    category: cls?.category ?? 'unknown',
    sensitivity: cls?.sensitivity ?? null,
    supersedes: record.supersedes === 0n ? null : record.supersedes,
    supersededBy: record.supersededBy === 0n ? null : record.supersededBy,
    cid: record.cid.toString(),
  }
}

/**
 * The records a caller may see of a patient's: all of them for the patient, those an active grant
 * or emergency window covers for anyone else. Refuses (and audits) a caller who may see none.
 */
export async function visibleRecords(
  deps: ServerDeps,
  caller: Address,
  patient: Address,
  pinned?: RecordsContext,
): Promise<OnChainRecord[]> {
  // The index says which records there are; whether the caller may see each is asked of the chain now.
  const owned = await deps.index.recordsOf(patient)
  if (caller === patient) return owned
  const ctx = pinned ?? (await requestContext(deps))
  const allowed = await Promise.all(owned.map((r) => canAccessNow(ctx, caller, r.tokenId)))
  const visible = owned.filter((_, i) => allowed[i])
  await audit(deps, {
    actor: caller,
    action: 'list',
    patient,
    outcome: visible.length > 0 ? 'allowed' : 'denied',
    reason: visible.length > 0 ? 'grant' : 'no-grant',
  })
  if (visible.length === 0) {
    throw new HttpError(403, 'forbidden', 'This patient has not shared any record with you.', {
      hint: 'Ask the patient for a grant; the attempt was recorded in their access log.',
    })
  }
  return visible
}

export function issuerNames(deps: ServerDeps) {
  const names = new Map<Address, Promise<string>>()
  return (issuer: Address) => {
    if (!names.has(issuer))
      names.set(
        issuer,
        getProvider(deps.ctx, issuer).then((p) => p.name),
      )
    return names.get(issuer)!
  }
}

export function recordRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/patients/{patient}/records',
      summary: "A patient's records that the caller may see (metadata only)",
      tags: ['records'],
      ...secured,
      request: { params: patientParam },
      responses: { ...jsonOk('Record summaries, oldest first'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const patient = getAddress(c.req.valid('param').patient)
      const records = await visibleRecords(deps, caller, patient)
      const nameOf = issuerNames(deps)
      const table = await viewerTable(deps, caller, patient)
      return jsonResponse(c, { records: await Promise.all(records.map(async (r) => summary(r, await nameOf(r.issuer), table))) })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/patients/{patient}/envelopes',
      summary: "The patient's own sealed envelopes, a page at a time, for a client that decrypts them on its side",
      description:
        'The portal opens a whole history in the browser (to date and group records by their clinical date) with a few of ' +
        'these requests instead of one per record. Only the patient may ask; erased records are left out. One audit entry ' +
        'per page.',
      tags: ['records'],
      ...secured,
      request: {
        params: patientParam,
        query: z.object({
          offset: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(ENVELOPE_PAGE_MAX).default(ENVELOPE_PAGE_MAX),
        }),
      },
      responses: { ...jsonOk('{ total, records: [{ tokenId, cid, envelope (base64) }] }, oldest first'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const patient = getAddress(c.req.valid('param').patient)
      const { offset, limit } = c.req.valid('query')
      if (caller !== patient) {
        await audit(deps, { actor: caller, action: 'read', patient, outcome: 'denied', reason: 'not-owner' })
        throw new HttpError(403, 'forbidden', 'Only the patient may fetch all of their sealed records at once.', {
          hint: 'Open the records shared with you one by one.',
        })
      }
      const owned = (await deps.index.recordsOf(patient)).filter((r) => !r.erasedAt)
      const page = owned.slice(offset, offset + limit)
      const records = await Promise.all(
        page.map(async (r) => {
          const parts: Uint8Array[] = []
          for await (const part of deps.ctx.store.cat(r.cid)) parts.push(part)
          return { tokenId: r.tokenId, cid: r.cid.toString(), envelope: Buffer.concat(parts).toString('base64') }
        }),
      )
      await audit(deps, { actor: caller, action: 'read', patient, outcome: 'allowed', reason: 'owner' })
      return jsonResponse(c, { total: owned.length, records })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/records/{tokenId}',
      summary: "One record's metadata and its verification (issuer, registry, signature, commitment)",
      tags: ['records'],
      ...secured,
      request: { params: tokenParam },
      responses: { ...jsonOk('The record and its checks'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const tokenId = parseTokenIdParam(c.req.valid('param').tokenId)
      const record = await getOnChainRecord(deps.ctx, tokenId)
      await checkReadAccess(deps.ctx, record, caller, 'verify')
      const reader = await deps.keyring.get(caller)
      const result = await verifyRecord(deps.ctx, { tokenId, ...(reader ? { reader } : {}) })
      const table = await viewerTable(deps, caller, record.owner)
      return jsonResponse(c, { record: summary(record, result.issuerName ?? '', table), valid: result.valid, checks: result.checks })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/records/{tokenId}/content',
      summary: 'The decrypted, verified document (custodial accounts only)',
      tags: ['records'],
      ...secured,
      request: { params: tokenParam },
      responses: { 200: { description: 'The document, in its own content type' }, ...errorResponses },
    }),
    async (c) => {
      const reader = await custodialAccount(deps, sessionOf(c).address)
      const tokenId = parseTokenIdParam(c.req.valid('param').tokenId)
      const { meta, content } = await openRecord(deps.ctx, { tokenId, reader })
      // Buffered, so a commitment mismatch at the end becomes an error, not a truncated 200.
      const parts: Uint8Array[] = []
      for await (const part of content) parts.push(part)
      return c.body(Buffer.concat(parts), 200, { 'content-type': meta.contentType, 'cache-control': 'no-store' })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/records/{tokenId}/envelope',
      summary: "The record's ciphertext (the sealed envelope), for clients that decrypt on their side",
      tags: ['records'],
      ...secured,
      request: { params: tokenParam },
      responses: { 200: { description: 'application/octet-stream' }, ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const tokenId = parseTokenIdParam(c.req.valid('param').tokenId)
      const record = await getOnChainRecord(deps.ctx, tokenId)
      await checkReadAccess(deps.ctx, record, caller)
      const parts: Uint8Array[] = []
      for await (const part of deps.ctx.store.cat(record.cid)) parts.push(part)
      return c.body(Buffer.concat(parts), 200, { 'content-type': 'application/octet-stream', 'x-medvault-cid': record.cid.toString() })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/records/{tokenId}/key-slip',
      summary: "The caller's wrapped record key (HPKE), released from escrow where the chain allows",
      tags: ['records'],
      ...secured,
      request: { params: tokenParam },
      responses: { ...jsonOk('The key slip (for an owner: only after a recovery)'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const tokenId = parseTokenIdParam(c.req.valid('param').tokenId)
      const record = await getOnChainRecord(deps.ctx, tokenId)
      const via = await checkReadAccess(deps.ctx, record, caller, 'key-release')
      // An owner by recovery or rotation is not in the envelope header: recovery wrapped its key as a slip.
      if (via === 'owner') return jsonResponse(c, { owner: true, slip: (await deps.ctx.keySlips?.get(tokenId, caller)) ?? null })
      const slip =
        (await deps.ctx.keySlips?.get(tokenId, caller)) ??
        (await deps.ctx.keyRelease?.release({ tokenId, cid: record.cid.toString(), requester: caller }))
      if (!slip)
        throw new HttpError(404, 'not-found', 'No key has been released to you for this record yet.', {
          hint: "The patient's medvault releases it on its next sync.",
        })
      return jsonResponse(c, { owner: false, slip })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/records',
      summary: 'Issue a record to a patient (a provider whose keys this server holds, under the patient’s standing authorisation)',
      tags: ['records'],
      ...secured,
      request: jsonBody(
        z.object({
          patient: addressSchema,
          resource: z.record(z.string(), z.unknown()).optional().openapi({ description: 'A FHIR R4 resource' }),
          binary: z.object({ contentType: z.string().min(1).max(200), data: z.string().max(30_000_000), category: z.string() }).optional(),
          supersedes: z.string().regex(/^\d+$/).optional(),
        }),
      ),
      responses: { 201: { description: 'Issued: token id, CID, transaction' }, ...errorResponses },
    }),
    async (c) => {
      const issuer = await custodialProvider(deps, sessionOf(c).address)
      const body = c.req.valid('json')
      // A client's retry key: reusing it for a different request is refused (the operation itself is idempotent by content).
      checkIdempotencyKey(deps.operationsDir, issuer.address, c.req.header('idempotency-key'), body)
      if (!body.resource === !body.binary) throw new HttpError(422, 'invalid', 'Send exactly one of `resource` (FHIR) or `binary`.')
      const patient = getAddress(body.patient)
      let doc: IssueForPatientParameters['doc']
      if (body.resource) {
        doc = documentFromFhir(JSON.stringify(body.resource))
        checkPatientOf(body.resource, patient, deps.ctx.deployment.chainId)
      } else {
        const category = parseCategory(body.binary!.category)
        doc = {
          content: { bytes: Buffer.from(body.binary!.data, 'base64') },
          contentType: body.binary!.contentType,
          category,
          sensitivity: requiredSensitivity(category),
        }
      }
      const result = await issueForPatient(deps, {
        issuer,
        patient,
        doc,
        ...(body.supersedes ? { supersedes: BigInt(body.supersedes) } : {}),
      })
      return jsonResponse(
        c,
        { tokenId: result.tokenId, cid: result.cid.toString(), txHash: result.txHash, gasUsed: result.gasUsed, outcome: result.outcome },
        201,
      )
    },
  )
}
