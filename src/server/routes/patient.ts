/**
 * What a patient does with their own account, for a patient whose keys this server holds: standing
 * authorisations, delegates, erasure, the access report and proofs of treatment. (A browser that
 * holds its own keys signs these transactions itself, through /api/rpc.)
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { getAddress } from 'viem'
import { proveClaim } from '../../claims/index.js'
import { delegateOnce, operationFault } from '../../operations/index.js'
import { shareDelegateTags } from '../../consent/index.js'
import { authorizeProvider, revokeProvider } from '../../directory/index.js'
import { eraseRecords } from '../../erasure/index.js'
import { gatherAccessReport, renderAccessReportPdf } from '../../report/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { audit, custodialAccount, jsonResponse, sessionOf } from '../http.js'
import { addressSchema, errorResponses, jsonBody, jsonOk, secured } from './schemas.js'

const accountParam = (name: string) => z.object({ [name]: addressSchema.openapi({ param: { name, in: 'path' } }) })
const tokenIds = z
  .array(z.string().regex(/^[1-9]\d*$/))
  .min(1)
  .max(1000)

export function patientRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/authorizations/{provider}',
      summary: 'Let a provider issue records to the caller without asking each time, until a set time',
      tags: ['consent'],
      ...secured,
      request: { params: accountParam('provider'), ...jsonBody(z.object({ until: z.iso.datetime({ offset: true }) })) },
      responses: { ...jsonOk('{ provider, until, txHash }'), ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const provider = getAddress(c.req.valid('param').provider as string)
      const until = new Date(c.req.valid('json').until)
      const txHash = await authorizeProvider(deps.ctx, patient, provider, until)
      return jsonResponse(c, { provider, until: until.toISOString(), txHash })
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/authorizations/{provider}',
      summary: "End a provider's standing authorisation now",
      tags: ['consent'],
      ...secured,
      request: { params: accountParam('provider') },
      responses: { ...jsonOk('{ provider, txHash }'), ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const provider = getAddress(c.req.valid('param').provider as string)
      const txHash = await revokeProvider(deps.ctx, patient.chainAccount, provider)
      return jsonResponse(c, { provider, txHash })
    },
  )

  for (const method of ['put', 'delete'] as const) {
    app.openapi(
      createRoute({
        method,
        path: '/api/delegates/{delegate}',
        summary: method === 'put' ? 'Name a delegate who may share non-sensitive records for the caller' : 'Remove a delegate',
        tags: ['consent'],
        ...secured,
        request: { params: accountParam('delegate') },
        responses: { ...jsonOk('{ delegate, enabled, txHash }'), ...errorResponses },
      }),
      async (c) => {
        const patient = await custodialAccount(deps, sessionOf(c).address)
        const delegate = getAddress(c.req.valid('param').delegate as string)
        // Journaled like the CLI's: the same request sent again after a crash finishes what it began.
        const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'delegate')
        const { txHash, outcome } = await delegateOnce(deps.ctx, {
          patient: patient.chainAccount,
          delegate,
          enabled: method === 'put',
          journalDir: deps.operationsDir,
          ...(checkpoint ? { checkpoint } : {}),
        })
        // A delegate turns categories into the patient's tags with the open classes sealed to it (only those: never a sensitive record).
        if (method === 'put') await shareDelegateTags(deps.ctx, { patient, delegate })
        return jsonResponse(c, { delegate, enabled: method === 'put', txHash, outcome })
      },
    )
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/records/erase',
      summary: 'Erase records by crypto-shredding: marked on chain, every key copy this node holds destroyed, the ciphertext deleted',
      tags: ['records'],
      ...secured,
      request: jsonBody(z.object({ tokenIds })),
      responses: { ...jsonOk('The erased records and what was destroyed for each'), ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const result = await eraseRecords(deps.ctx, {
        patient: patient.chainAccount,
        tokenIds: c.req.valid('json').tokenIds.map(BigInt),
        importJournalDir: deps.importsDir,
        operationJournalDir: deps.operationsDir,
      })
      return jsonResponse(c, result)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/report',
      summary: "The caller's access report (HIPAA accounting of disclosures, GDPR art. 15): records, grants, accesses, emergencies",
      tags: ['audit'],
      ...secured,
      request: { query: z.object({ format: z.enum(['json', 'pdf']).default('json') }) },
      responses: { 200: { description: 'The report as JSON, or as a PDF with ?format=pdf' }, ...errorResponses },
    }),
    async (c) => {
      const patient = sessionOf(c).address
      // The patient's keys, when this server holds them, name the categories behind the chain's tags.
      const keys = await deps.keyring.get(patient)
      const report = await gatherAccessReport(deps.ctx, {
        patient,
        ...(keys ? { keys } : {}),
        auditLog: { dir: deps.auditLog.dir, node: deps.auditLog.address },
        emergencyReasonsDir: deps.emergencyReasonsDir,
      })
      await audit(deps, { actor: patient, action: 'list', patient, outcome: 'allowed', reason: 'report' })
      if (c.req.valid('query').format === 'pdf') {
        return c.body(new Uint8Array(await renderAccessReportPdf(report)), 200, {
          'content-type': 'application/pdf',
          'content-disposition': 'attachment; filename="medvault-access-report.pdf"',
        })
      }
      return jsonResponse(c, report)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/claims',
      summary: 'A proof of treatment for a named verifier (an insurer): only the chosen fields of the chosen records',
      tags: ['claims'],
      ...secured,
      request: jsonBody(
        z.object({
          tokenIds,
          fields: z.array(z.string().startsWith('/').max(200)).min(1).max(100),
          audience: addressSchema,
          nonce: z
            .string()
            .regex(/^0x[0-9a-fA-F]{64}$/)
            .optional(),
        }),
      ),
      responses: { 201: { description: 'The presentation (application/json), for POST /verify/claim' }, ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const body = c.req.valid('json')
      const presentation = await proveClaim(deps.ctx, {
        patient,
        tokenIds: body.tokenIds.map(BigInt),
        fields: body.fields,
        audience: getAddress(body.audience),
        ...(body.nonce ? { nonce: body.nonce as `0x${string}` } : {}),
      })
      return jsonResponse(c, presentation, 201)
    },
  )
}
