import { z } from '@hono/zod-openapi'
import type { ZodType } from 'zod'

export const addressSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'an Ethereum address (0x and 40 hex digits)')
  // The zero address is nobody's account: no patient, provider or delegate has it.
  .refine((v) => !/^0x0{40}$/.test(v), 'an account, not the zero address')
  .openapi({ example: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' })

const outcomeSchema = z
  .object({
    resourceType: z.literal('OperationOutcome'),
    issue: z.array(z.object({ severity: z.string(), code: z.string(), diagnostics: z.string().optional() })),
  })
  .openapi('OperationOutcome')

const outcome = (description: string) => ({ description, content: { 'application/fhir+json': { schema: outcomeSchema } } })

/** The failures every route can answer with, each an OperationOutcome. */
export const errorResponses = {
  400: outcome('Malformed request'),
  401: outcome('Not signed in, or the session expired'),
  403: outcome('Not allowed: no consent on chain, or no keys held here'),
  404: outcome('No such record or resource'),
  409: outcome('The chain refused the transaction, or the same operation is still running (retry it later)'),
  413: outcome('Request body too large'),
  422: outcome('Well-formed but invalid (e.g. not valid FHIR R4)'),
  429: outcome('Too many requests; see Retry-After'),
  503: outcome('The chain or the IPFS storage does not answer: nothing was changed; send the same request again after Retry-After'),
}

export const secured = { security: [{ session: [] }] }

/** A JSON 200; its shape is described in words (typed response schemas would bind handlers to zod output types). */
export function jsonOk(description: string) {
  return { 200: { description: `${description} (application/json)` } }
}

export function jsonBody<T extends ZodType>(schema: T) {
  return { body: { required: true, content: { 'application/json': { schema } } } }
}
