import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { ServerDeps, ServerEnv } from '../context.js'
import { jsonResponse } from '../http.js'
import { errorResponses, jsonBody, jsonOk } from './schemas.js'

export function authRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/auth/nonce',
      summary: 'A single-use nonce, and the domain, URI and chain id a Sign-In with Ethereum message must name',
      tags: ['auth'],
      responses: { ...jsonOk('{ nonce, expiresAt, domain, uri, chainId }'), ...errorResponses },
    }),
    async (c) => {
      const { nonce, expiresAt } = await deps.siwe.nonce()
      const url = new URL(deps.baseUrl)
      return jsonResponse(c, {
        nonce,
        expiresAt: expiresAt.toISOString(),
        domain: url.host,
        uri: url.origin,
        chainId: deps.ctx.deployment.chainId,
      })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/auth/login',
      summary: 'Exchange a signed EIP-4361 message for a short-lived session token',
      tags: ['auth'],
      request: jsonBody(
        z.object({
          message: z.string().min(1).max(4096),
          signature: z.string().regex(/^0x[0-9a-fA-F]+$/),
        }),
      ),
      responses: { ...jsonOk('{ token, expiresAt, address }'), ...errorResponses },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const { token, expiresAt, address } = await deps.siwe.login({ message: body.message, signature: body.signature as `0x${string}` })
      return jsonResponse(c, { token, expiresAt: expiresAt.toISOString(), address })
    },
  )
}
