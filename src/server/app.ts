import { OpenAPIHono } from '@hono/zod-openapi'
import { getConnInfo } from '@hono/node-server/conninfo'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import { secureHeaders } from 'hono/secure-headers'
import type { ServerDeps, ServerEnv } from './context.js'
import { fhirRoutes } from './fhir/routes.js'
import { transactionRoute } from './fhir/transaction.js'
import { FHIR_CONTENT_TYPE } from './http.js'
import { HttpError, RETRY_AFTER_SECONDS, operationOutcome, toOutcome } from './outcomes.js'
import { jsonDepthLimit } from './jsonDepth.js'
import { createRateLimiter } from './rateLimit.js'
import { accountRoutes } from './routes/account.js'
import { authRoutes } from './routes/auth.js'
import { patientRoutes } from './routes/patient.js'
import { recordRoutes } from './routes/records.js'
import { studyRoutes } from './routes/studies.js'
import { emergencyRoutes } from './routes/emergency.js'
import { VERIFY_BODY_BYTES, verifyRoutes } from './routes/verify.js'
import { webRoutes } from './routes/web.js'
import { staticWebRoutes } from './staticWeb.js'
import { WELL_KNOWN_HEADERS, wellKnownResponder } from '../shc/index.js'

const VERSION = '0.1.0'

function outcomeResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': FHIR_CONTENT_TYPE, ...headers } })
}

/**
 * The medvault HTTP server as a Hono app: SIWE sign-in, the REST API under /api, the FHIR R4
 * facade under /fhir, the OpenAPI document at /openapi.json. Every failure is an OperationOutcome.
 */
export function createApp(deps: ServerDeps): OpenAPIHono<ServerEnv> {
  const app = new OpenAPIHono<ServerEnv>({
    // FHIR clients post transactions to `[base]/` as well as `[base]`.
    strict: false,
    // Request validation failures: 400 for the URL, 422 for a well-formed body that is not what the route takes.
    defaultHook: (result) => {
      if (result.success) return
      const where = result.target === 'json' ? 'body' : result.target
      const detail = result.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; ')
      throw new HttpError(result.target === 'json' ? 422 : 400, 'invalid', `The request ${where} is not valid: ${detail}.`)
    },
  })
  const limiter = createRateLimiter(deps.limits.requestsPerMinute)

  app.onError((error, c) => {
    if (error instanceof HTTPException && !(error instanceof HttpError)) {
      // hono's own: malformed JSON in a body (400) and the like.
      return outcomeResponse(error.status, operationOutcome(error.status === 400 ? 'structure' : 'processing', error.message))
    }
    const { status, outcome } = toOutcome(error)
    if (status >= 500) deps.logError?.(`${c.req.method} ${new URL(c.req.url).pathname} failed: ${error.name}: ${error.message}`)
    // A chain or storage that is down (503): the client may send the same request again, after a pause (RFC 9110 §10.2.3).
    const headers = error instanceof HttpError ? error.headers : {}
    return outcomeResponse(status, outcome, status === 503 ? { ...headers, 'retry-after': String(RETRY_AFTER_SECONDS) } : headers)
  })
  app.notFound((c) =>
    outcomeResponse(404, operationOutcome('not-found', `There is nothing at ${c.req.method} ${new URL(c.req.url).pathname}.`)),
  )

  app.use(
    '*',
    secureHeaders({
      // The web portal's own scripts and styles only (no inline code); images of records are blob: URLs.
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'blob:'],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
      },
      strictTransportSecurity: deps.baseUrl.startsWith('https:') ? 'max-age=63072000; includeSubDomains' : false,
    }),
  )
  app.use('*', async (c, next) => {
    await next()
    // Health data must not sit in shared or browser caches.
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store')
  })
  // One body limit per request, chosen by path: hono's bodyLimit re-wraps a body of unknown length
  // (chunked, or a DELETE without content-length) in a new Request, and a second bodyLimit on that
  // one finds its stream locked (a 500 the HTTP fuzz test found on DELETE /verify/x).
  const anyBody = bodyLimit({
    maxSize: deps.limits.bodyBytes,
    onError: () => {
      throw new HttpError(413, 'too-costly', `The request body is larger than this server accepts (${deps.limits.bodyBytes} bytes).`, {
        hint: 'Split a large Bundle into several transactions.',
      })
    },
  })
  const verifyBody = bodyLimit({
    maxSize: Math.min(VERIFY_BODY_BYTES, deps.limits.bodyBytes),
    onError: () => {
      throw new HttpError(413, 'too-costly', `A card or presentation to verify is at most ${VERIFY_BODY_BYTES} bytes.`)
    },
  })
  app.use('*', (c, next) => (new URL(c.req.url).pathname.startsWith('/verify/') ? verifyBody : anyBody)(c, next))
  app.use('*', jsonDepthLimit())

  // Sessions: a bearer token on everything but sign-in, the capability statement and the API description.
  app.use('*', async (c, next) => {
    const path = new URL(c.req.url).pathname
    const open =
      path.startsWith('/auth/') ||
      path === '/fhir/metadata' ||
      path === '/openapi.json' ||
      path === '/health' ||
      // Studies are public: their terms and escrow are on chain for anyone to read.
      (c.req.method === 'GET' && /^\/api\/studies(\/\d+)?$/.test(path))
    const header = c.req.header('authorization')
    if (header?.startsWith('Bearer ')) c.set('session', await deps.tokens.verify(header.slice(7)))
    else if (!open && (path.startsWith('/api/') || path.startsWith('/fhir'))) {
      throw new HttpError(401, 'login', 'Sign in first: this endpoint needs a session token.', {
        hint: 'GET /auth/nonce, sign the message with your account, POST /auth/login, then send `Authorization: Bearer <token>`.',
      })
    }
    const key = c.get('session')?.address ?? `ip:${getConnInfo(c).remote.address ?? 'unknown'}`
    const taken = limiter.take(key)
    if (!taken.ok) {
      return outcomeResponse(429, operationOutcome('throttled', 'Too many requests from this account; slow down.'), {
        'retry-after': String(taken.retryAfterSeconds),
      })
    }
    await next()
  })

  app.get('/health', (c) => c.json({ ok: true }))
  // A person trying the server with curl (Accept: */*) gets directions; a browser gets the portal.
  app.get('/', async (c, next) => {
    if (deps.webRoot && (c.req.header('accept') ?? '').includes('text/html')) return next()
    return c.text(
      [
        `medvault ${VERSION}: patient-owned medical records.`,
        deps.webRoot ? `  portal   ${deps.baseUrl}/  (open it in a browser)` : '  portal   not built here (`npm run build` makes dist/web)',
        `  API      ${deps.baseUrl}/openapi.json  (OpenAPI 3.1; sign in with Ethereum: GET /auth/nonce, POST /auth/login)`,
        `  FHIR R4  ${deps.baseUrl}/fhir/metadata  (the capability statement)`,
        '',
      ].join('\n'),
      200,
      { 'content-type': 'text/plain; charset=utf-8' },
    )
  })
  // Health card issuers' keys and revocation lists, so the TLS proxy in front of this server
  // (`medvault start --public-url`) serves them at the issuer URLs the cards carry.
  if (deps.healthCards.crlDir) {
    const wellKnown = wellKnownResponder(deps.ctx, { issuerBaseUrl: deps.healthCards.issuerBaseUrl, crlDir: deps.healthCards.crlDir })
    app.on(['GET', 'HEAD'], `${wellKnown.basePath}/*`, async (c, next) => {
      const answer = wellKnown.respond(c.req.method, new URL(c.req.url).pathname)
      if (!answer) return next()
      const { status, body } = await answer
      return c.body(JSON.stringify(body), status as 200, WELL_KNOWN_HEADERS)
    })
  }
  authRoutes(app, deps)
  accountRoutes(app, deps)
  recordRoutes(app, deps)
  patientRoutes(app, deps)
  fhirRoutes(app, deps, VERSION)
  transactionRoute(app, deps)
  webRoutes(app, deps)
  verifyRoutes(app, deps)
  emergencyRoutes(app, deps)
  studyRoutes(app, deps)

  app.openAPIRegistry.registerComponent('securitySchemes', 'session', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'medvault',
      version: VERSION,
      description:
        'Patient-owned medical records: sign in with Ethereum (EIP-4361), then every read is checked against on-chain consent and audited.',
    },
    servers: [{ url: deps.baseUrl }],
  })
  // Last: the portal's files and its client-side pages, for what no route above answered.
  if (deps.webRoot) staticWebRoutes(app, deps.webRoot)
  return app
}
