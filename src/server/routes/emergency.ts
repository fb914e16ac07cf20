/**
 * Break-glass access, for the portal. The emergency provider's browser signs
 * `ConsentRegistry.openEmergency(patient, keccak256(reason))` itself and sends it through the
 * relay (POST /api/rpc); the chain decides who may open a window (emergency providers the
 * registrar named), for how long (24 hours) and what it covers (non-sensitive records, whose keys
 * the node's escrow releases). These endpoints only make it visible:
 *
 * - `POST /api/emergency`: the provider reports the window it opened. The server reads the
 *   transaction's `EmergencyAccessOpened` event, checks the caller opened it and that the reason
 *   given hashes to the one on chain, and writes an `emergency` entry with the reason's code (from
 *   a short list) to the patient's access log. The free text is not kept anywhere on the server.
 * - `GET /api/emergencies`: the windows opened on the caller's records, read from the chain, so
 *   a patient sees them even when nobody reported them.
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { type Hex, getAddress, keccak256, parseEventLogs, toHex } from 'viem'
import { listEmergencies } from '../../consent/index.js'
import { consentRegistryAbi } from '../../contracts/index.js'
import { getProvider } from '../../directory/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { audit, jsonResponse, sessionOf } from '../http.js'
import { HttpError } from '../outcomes.js'
import { addressSchema, errorResponses, jsonBody, jsonOk, secured } from './schemas.js'

/** Why a provider breaks the glass: the code goes into the access log, the words are the portal's. */
export const EMERGENCY_REASONS = ['unresponsive', 'life-threatening', 'cannot-communicate', 'other-urgent'] as const

/** The text hashed on chain for a reason code and the provider's own words. */
export function emergencyReasonText(code: (typeof EMERGENCY_REASONS)[number], words: string): string {
  return `${code}: ${words.trim()}`
}

export function emergencyRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/emergency',
      summary: 'Report an emergency window the caller opened on chain; logged for the patient with its reason code',
      tags: ['consent'],
      ...secured,
      request: jsonBody(
        z.object({
          patient: addressSchema,
          txHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
          reasonCode: z.enum(EMERGENCY_REASONS),
          reason: z.string().min(1).max(2000).openapi({ description: 'The full reason text whose keccak256 is on chain; not stored' }),
        }),
      ),
      responses: { 201: { description: '{ patient, until, reasonHash } (application/json)' }, ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const body = c.req.valid('json')
      const patient = getAddress(body.patient)
      const receipt = await deps.ctx.publicClient.getTransactionReceipt({ hash: body.txHash as Hex }).catch(() => undefined)
      if (receipt?.status !== 'success') throw new HttpError(404, 'not-found', 'There is no successful transaction with that hash.')
      const opened = parseEventLogs({ abi: consentRegistryAbi, logs: receipt.logs, eventName: 'EmergencyAccessOpened' }).find(
        (e) => getAddress(e.address) === getAddress(deps.ctx.deployment.consent),
      )
      if (!opened || getAddress(opened.args.provider) !== caller || getAddress(opened.args.patient) !== patient) {
        throw new HttpError(422, 'invalid', 'That transaction did not open an emergency window on this patient by your account.')
      }
      if (!body.reason.startsWith(`${body.reasonCode}: `) || keccak256(toHex(body.reason)) !== opened.args.reasonHash) {
        throw new HttpError(422, 'invalid', 'The reason does not match the one recorded on chain.')
      }
      await audit(deps, { actor: caller, action: 'emergency', patient, purpose: 'emergency', outcome: 'allowed', reason: body.reasonCode })
      return jsonResponse(
        c,
        { patient, until: new Date(Number(opened.args.until) * 1000).toISOString(), reasonHash: opened.args.reasonHash },
        201,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/emergencies',
      summary: "Emergency windows opened on the caller's records, newest first (from the chain)",
      tags: ['consent'],
      ...secured,
      responses: { ...jsonOk('{ emergencies: [{ provider, providerName, openedAt, until, open }] }'), ...errorResponses },
    }),
    async (c) => {
      const me = sessionOf(c).address
      const windows = await listEmergencies(deps.ctx, me)
      const emergencies = await Promise.all(
        windows.map(async (w) => ({
          provider: w.provider,
          providerName: (await getProvider(deps.ctx, w.provider)).name,
          openedAt: w.openedAt.toISOString(),
          until: w.until.toISOString(),
          open: w.open,
        })),
      )
      return jsonResponse(c, { emergencies })
    },
  )
}
