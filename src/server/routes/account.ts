import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { getAddress } from 'viem'
import { filterAuditEntries, AUDIT_ACTIONS } from '../../audit/index.js'
import { PURPOSES, getGrant, listGrants, type GrantTerms } from '../../consent/index.js'
import { grantOnce, operationFault, revokeOnce } from '../../operations/index.js'
import { releasePendingKeys } from '../../records/index.js'
import { listProviders, getProvider } from '../../directory/index.js'
import { CATEGORIES, Sensitivity, type SensitivityName } from '../../core/index.js'
import { isResearcher } from '../../research/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { audit, custodialAccount, jsonResponse, sessionOf } from '../http.js'
import { HttpError } from '../outcomes.js'
import { addressSchema, errorResponses, jsonBody, jsonOk, secured } from './schemas.js'
import { chainTime } from '../../chain/index.js'

const SENSITIVE_KINDS = ['mental-health', 'substance-use', 'sexual-health', 'genetic', 'restricted'] as const
const FLAG: Record<(typeof SENSITIVE_KINDS)[number], SensitivityName> = {
  'mental-health': 'mentalHealth',
  'substance-use': 'substanceUse',
  'sexual-health': 'sexualHealth',
  genetic: 'genetic',
  restricted: 'restricted',
}

const grantBody = z
  .object({
    grantee: addressSchema,
    scope: z.enum(['records', 'categories', 'all']),
    tokenIds: z
      .array(z.string().regex(/^[1-9]\d*$/))
      .max(1000)
      .optional(),
    categories: z.array(z.enum(CATEGORIES)).max(CATEGORIES.length).optional(),
    includeSensitive: z.array(z.enum(SENSITIVE_KINDS)).optional(),
    purpose: z.enum(PURPOSES).default('treatment'),
    expiresAt: z.iso.datetime({ offset: true }),
  })
  .openapi('GrantRequest')

export function accountRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/me',
      summary:
        'Who is signed in, whether this server holds their keys, their provider entry if any, and whether they are an approved researcher',
      tags: ['account'],
      ...secured,
      responses: { ...jsonOk('The account'), ...errorResponses },
    }),
    async (c) => {
      const { address, expiresAt } = sessionOf(c)
      const [custodial, provider, researcher] = await Promise.all([
        deps.keyring.get(address),
        getProvider(deps.ctx, address),
        // A home deployed before the research market has none: nobody is a researcher there.
        deps.ctx.deployment.research ? isResearcher(deps.ctx, address) : false,
      ])
      return jsonResponse(c, {
        address,
        custodial: custodial !== undefined,
        provider: provider.status === 'unregistered' ? null : { name: provider.name, status: provider.status },
        researcher,
        sessionExpiresAt: expiresAt.toISOString(),
      })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/providers',
      summary: 'The provider registry',
      tags: ['account'],
      ...secured,
      responses: { ...jsonOk('Providers'), ...errorResponses },
    }),
    async (c) => {
      sessionOf(c)
      const providers = await listProviders(deps.ctx)
      return jsonResponse(c, { providers: providers.map((p) => ({ address: p.address, name: p.name, status: p.status })) })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/patients',
      summary: 'Patients who share records with the caller now, and until when',
      tags: ['consent'],
      ...secured,
      responses: { ...jsonOk('Patients'), ...errorResponses },
    }),
    async (c) => jsonResponse(c, { patients: await deps.index.patientsSharingWith(sessionOf(c).address) }),
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/grants',
      summary: "The caller's grants (as a patient), with their state now",
      tags: ['consent'],
      ...secured,
      responses: { ...jsonOk('Grants, oldest first'), ...errorResponses },
    }),
    async (c) => {
      const me = sessionOf(c).address
      // Categories come from the caller's own tag table when this server holds its keys; else the tags are left for the caller to map.
      return jsonResponse(c, { grants: await listGrants(deps.ctx, me, await deps.keyring.get(me)) })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/grants',
      summary: 'Share records until a set time (a patient whose keys this server holds); releases the covered keys',
      tags: ['consent'],
      ...secured,
      request: jsonBody(grantBody),
      responses: { 201: { description: 'The grant (application/json)' }, ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const body = c.req.valid('json')
      const sensitive = (body.includeSensitive ?? []).reduce((mask, kind) => mask | Sensitivity[FLAG[kind]], 0)
      let terms: GrantTerms
      if (body.scope === 'records') {
        if (!body.tokenIds?.length) throw new HttpError(422, 'invalid', 'A grant of records names at least one record in `tokenIds`.')
        terms = { scope: 'records', tokenIds: body.tokenIds.map(BigInt) }
      } else if (body.scope === 'categories') {
        if (!body.categories?.length) throw new HttpError(422, 'invalid', 'A grant of categories names at least one in `categories`.')
        terms = { scope: 'categories', categories: body.categories, sensitive }
      } else {
        terms = { scope: 'all', sensitive }
      }
      const expiresAt = new Date(body.expiresAt)
      // The contract compares with the block's time; so does this early refusal.
      if (expiresAt.getTime() <= (await chainTime(deps.ctx.publicClient)).getTime())
        throw new HttpError(422, 'invalid', 'The grant would already have expired on the chain.', { hint: 'Give an expiry in the future.' })
      const grantee = getAddress(body.grantee)
      // The CLI's journaled operation: a retried request (a lost answer, a server killed mid-way)
      // finishes the first one or returns the grant it made; it never makes a second grant.
      const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'grant')
      const { grantId, txHash, keysReleased, outcome } = await grantOnce(deps.ctx, {
        grantor: patient,
        patient: patient.address,
        grantee,
        terms,
        expiresAt,
        purpose: body.purpose,
        journalDir: deps.operationsDir,
        releaseKeys: (id) => releasePendingKeys(deps.ctx, patient, { grantId: id }),
        ...(checkpoint ? { checkpoint } : {}),
      })
      if (outcome !== 'done-before')
        await audit(deps, { actor: patient.address, action: 'grant', patient: patient.address, purpose: body.purpose, outcome: 'allowed' })
      return jsonResponse(c, { grant: await getGrant(deps.ctx, grantId, patient), txHash, keysReleased, outcome }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/grants/{grantId}',
      summary: 'Revoke a grant now (a patient whose keys this server holds)',
      tags: ['consent'],
      ...secured,
      request: {
        params: z.object({
          grantId: z
            .string()
            .regex(/^[1-9]\d*$/)
            .openapi({ param: { name: 'grantId', in: 'path' } }),
        }),
      },
      responses: { ...jsonOk('The revoked grant'), ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const grantId = BigInt(c.req.valid('param').grantId)
      // Journaled like the CLI's revoke: the same request sent again after a crash finishes what it began.
      const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'revoke')
      const { txHash, outcome } = await revokeOnce(deps.ctx, {
        grantor: patient.chainAccount,
        grantId,
        journalDir: deps.operationsDir,
        ...(checkpoint ? { checkpoint } : {}),
      })
      await audit(deps, { actor: patient.address, action: 'revoke', patient: patient.address, outcome: 'allowed' })
      return jsonResponse(c, { grant: await getGrant(deps.ctx, grantId, patient), txHash, outcome })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/audit',
      summary: "The access log entries about the caller's records, and the caller's own accesses",
      tags: ['audit'],
      ...secured,
      request: {
        query: z.object({
          action: z.enum(AUDIT_ACTIONS).optional(),
          outcome: z.enum(['allowed', 'denied']).optional(),
          since: z.iso.datetime({ offset: true }).optional(),
        }),
      },
      responses: { ...jsonOk('Signed audit entries, oldest first'), ...errorResponses },
    }),
    async (c) => {
      const me = sessionOf(c).address
      const q = c.req.valid('query')
      const query = {
        ...(q.action ? { action: q.action } : {}),
        ...(q.outcome ? { outcome: q.outcome } : {}),
        ...(q.since ? { since: new Date(q.since) } : {}),
      }
      const all = await deps.auditLog.entries()
      const mine = new Set([...filterAuditEntries(all, { ...query, patient: me }), ...filterAuditEntries(all, { ...query, actor: me })])
      return jsonResponse(c, { entries: all.filter((e) => mine.has(e)) })
    },
  )
}
