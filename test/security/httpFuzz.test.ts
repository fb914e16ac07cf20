/**
 * Property-based fuzzing of the HTTP surface over a real socket (loopback only), against a real
 * chain and blockstore: requests generated from every operation in the server's own
 * /openapi.json (path, query and body from each route's schema, valid-looking and not), plus
 * malformed paths, headers and bodies. The property: no input gets a 5xx, and every error body is
 * a FHIR OperationOutcome. Bounded in count (RUNS_PER_ROUTE per operation, MALFORMED_RUNS more)
 * and in time (TIME_LIMIT_MS per property); the figures are in docs/security.md.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { sessionToken } from '../integration/server.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack } from '../integration/stack.js'

const RUNS_PER_ROUTE = 12
const MALFORMED_RUNS = 200
const TIME_LIMIT_MS = 12_000

type Schema = {
  $ref?: string
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  maxLength?: number
}
type Parameter = { name: string; in: 'path' | 'query' | 'header'; schema?: Schema }
type Operation = { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: Schema }> } }
type OpenApi = { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> } }

type Request = { method: string; path: string; headers: Record<string, string>; body?: string }
type Answer = { status: number; contentType: string; text: string }

/** Values of the shapes the routes take, valid and not, from an OpenAPI 3.1 (JSON Schema) schema. */
function arbitraryFor(schema: Schema | undefined, doc: OpenApi, hints: fc.Arbitrary<string>, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 5) return fc.jsonValue({ maxDepth: 2 })
  if (schema.$ref) return arbitraryFor(doc.components?.schemas?.[schema.$ref.split('/').pop()!], doc, hints, depth + 1)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  if (schema.const !== undefined) return fc.constant(schema.const)
  const alternatives = schema.anyOf ?? schema.oneOf ?? schema.allOf
  if (alternatives) return fc.oneof(...alternatives.map((s) => arbitraryFor(s, doc, hints, depth + 1)))
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string': {
      const options: fc.Arbitrary<string>[] = [fc.string({ maxLength: schema.maxLength ?? 40 }), hints]
      if (schema.pattern) {
        try {
          options.push(fc.stringMatching(new RegExp(schema.pattern)))
        } catch {
          // a pattern fast-check cannot generate from: the other options still cover the field
        }
      }
      if (schema.format === 'date-time') options.push(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()))
      return fc.oneof(...options)
    }
    case 'integer':
      return fc.oneof(fc.integer({ min: schema.minimum ?? -10, max: Math.min(schema.maximum ?? 1000, 1e9) }), fc.integer())
    case 'number':
      return fc.double()
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(arbitraryFor(schema.items, doc, hints, depth + 1), { maxLength: 4 })
    case 'object': {
      const properties = schema.properties ?? {}
      const required = (schema.required ?? []).filter((k) => k in properties)
      return fc.record(Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, arbitraryFor(s, doc, hints, depth + 1)])), {
        requiredKeys: required,
      })
    }
    default:
      return fc.jsonValue({ maxDepth: 3 })
  }
}

/** Path segments a client could send: hints, schema values, text, and malformed escapes. */
const segment = (value: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 4, arbitrary: value.map((v) => encodeURIComponent(String(v))) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.constantFrom('%ff', '%E0%A4%A', '%', '%%', '..', '%2e%2e%2f', '%00', '%c0%af', '0x', '-1', '1e3', '') },
  )

const bodyOf = (valid: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 5, arbitrary: valid.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        '{"a":',
        '[1,',
        '"\\ud800"',
        'null',
        '\u0000',
        '{"resourceType":1}',
        `${'['.repeat(150)}${']'.repeat(150)}`,
      ),
    },
  )

const contentTypes = fc.constantFrom(
  'application/json',
  'application/fhir+json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  '',
)

describe('security: HTTP fuzzing from /openapi.json', () => {
  let s: TestStack
  let server: MedvaultServer
  let doc: OpenApi
  let token: string
  let providerToken: string
  const webRoot = mkdtempSync(join(tmpdir(), 'medvault-fuzz-web-'))
  const seen = { requests: 0, byStatus: new Map<number, number>() }

  before(async () => {
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>portal</title>')
    s = await openTestStack({ providers: { lab: 'City Lab' }, others: ['alice'] })
    await issueExample(s, 'glucose.json', 'lab', 'alice')
    server = await startServer(s.mv, {
      port: 0,
      host: '127.0.0.1',
      passphrase: PASSPHRASE,
      indexMaxAgeMs: 0,
      webRoot,
      limits: { requestsPerMinute: 1_000_000, bodyBytes: 1024 * 1024 },
      logError: () => undefined,
    })
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:/, 'loopback only')
    token = await sessionToken(server.url, s.accounts.alice!.chainAccount)
    providerToken = await sessionToken(server.url, s.accounts.lab!.chainAccount)
    doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as OpenApi
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
    rmSync(webRoot, { recursive: true, force: true })
    const statuses = [...seen.byStatus].sort(([a], [b]) => a - b).map(([k, v]) => `${k}×${v}`)
    process.stdout.write(`# http fuzz: ${seen.requests} requests; statuses ${statuses.join(' ')}\n`)
  })

  const hints = () =>
    fc.constantFrom(
      s.accounts.alice!.address,
      s.accounts.lab!.address,
      `0x${'0'.repeat(40)}`,
      '1',
      '2',
      '0',
      (2n ** 256n).toString(),
      'glucose',
      'laboratory',
      'treatment',
    )

  const headers = fc.record(
    {
      // Mostly signed in, so requests reach the handlers; sometimes not, or with a broken token.
      authorization: fc.oneof(
        { weight: 6, arbitrary: fc.constant('alice') },
        { weight: 3, arbitrary: fc.constant('lab') },
        { weight: 1, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('Bearer ', 'Bearer x.y.z', 'Bearer eyJhbGciOiJub25lIn0.e30.', 'Basic YTpi', 'bearer') },
        { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((t) => `Bearer ${t}`) },
      ),
      contentType: fc.oneof({ weight: 4, arbitrary: fc.constant('application/json') }, { weight: 3, arbitrary: contentTypes }),
      accept: fc.constantFrom('application/json', 'application/fhir+json', 'text/html', '*/*', 'application/pdf', ''),
      idempotencyKey: fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
    },
    { requiredKeys: ['contentType', 'accept'] },
  )

  function headersOf(h: {
    authorization?: string | undefined
    contentType: string
    accept: string
    idempotencyKey?: string | undefined
  }): Record<string, string> {
    const out: Record<string, string> = {}
    if (h.authorization === 'alice') out.authorization = `Bearer ${token}`
    else if (h.authorization === 'lab') out.authorization = `Bearer ${providerToken}`
    else if (h.authorization !== undefined) out.authorization = h.authorization
    if (h.contentType) out['content-type'] = h.contentType
    if (h.accept) out.accept = h.accept
    // Header values must be ByteStrings without CR/LF; fetch refuses others before they leave.
    if (h.idempotencyKey !== undefined) out['idempotency-key'] = h.idempotencyKey.replace(/[^\x20-\x7e]/g, 'x')
    for (const [k, v] of Object.entries(out)) if (!/^[\x20-\x7e]*$/.test(v)) out[k] = v.replace(/[^\x20-\x7e]/g, 'x')
    return out
  }

  async function send(req: Request): Promise<Answer> {
    const res = await fetch(`${server.url}${req.path}`, {
      method: req.method,
      headers: req.headers,
      ...(req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD' ? { body: req.body } : {}),
      redirect: 'manual',
    })
    const answer = { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() }
    seen.requests++
    seen.byStatus.set(answer.status, (seen.byStatus.get(answer.status) ?? 0) + 1)
    return answer
  }

  function check(req: Request, answer: Answer): void {
    const what = `${req.method} ${req.path} -> ${answer.status}`
    assert.ok(answer.status < 500, `${what}: ${answer.text.slice(0, 300)}`)
    if (answer.status < 400 || req.method === 'HEAD') return
    let body: { resourceType?: unknown; issue?: unknown } | undefined
    try {
      body = JSON.parse(answer.text) as typeof body
    } catch {
      body = undefined
    }
    assert.equal(body?.resourceType, 'OperationOutcome', `${what}: the error body is not an OperationOutcome: ${answer.text.slice(0, 200)}`)
    assert.ok(Array.isArray(body?.issue) && body.issue.length > 0, `${what}: an OperationOutcome without issues`)
  }

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['get', 'post', 'put', 'delete', 'patch'].includes(method))
        .map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    )

  it('every operation in /openapi.json: no 5xx and only OperationOutcome errors, for generated requests', async () => {
    const ops = operations()
    assert.ok(ops.length >= 40, `${ops.length} operations in /openapi.json`)
    const started = performance.now()
    const perRouteMs = Math.max(200, TIME_LIMIT_MS / ops.length)
    for (const { path, method, op } of ops) {
      const params = op.parameters ?? []
      const pathArbs = Object.fromEntries(
        params.filter((p) => p.in === 'path').map((p) => [p.name, segment(arbitraryFor(p.schema, doc, hints()))]),
      )
      const queryArbs = fc.array(
        fc.oneof(
          ...params.filter((p) => p.in === 'query').map((p) => fc.tuple(fc.constant(p.name), arbitraryFor(p.schema, doc, hints()))),
          fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })),
        ),
        { maxLength: 4 },
      )
      const bodySchema = Object.values(op.requestBody?.content ?? {})[0]?.schema
      const request = fc
        .record({
          path: Object.keys(pathArbs).length > 0 ? fc.record(pathArbs) : fc.constant({} as Record<string, string>),
          query: queryArbs,
          body: bodyOf(arbitraryFor(bodySchema, doc, hints())),
          headers,
        })
        .map(({ path: values, query, body, headers: h }): Request => {
          const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => (values as Record<string, string>)[name] ?? '')
          const qs = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')
          return { method, path: qs ? `${filled}?${qs}` : filled, headers: headersOf(h), body }
        })
      // One request per operation whatever the machine's load (a property the time limit interrupts
      // before its first run fails: "interrupted after 0 tests"); then as many as the time allows.
      const [first] = fc.sample(request, 1)
      check(first!, await send(first!))
      await fc.assert(
        fc.asyncProperty(request, async (req) => check(req, await send(req))),
        { numRuns: RUNS_PER_ROUTE - 1, interruptAfterTimeLimit: perRouteMs * 4, markInterruptAsFailure: false },
      )
    }
    const ms = performance.now() - started
    process.stdout.write(`# http fuzz: ${ops.length} operations, ${RUNS_PER_ROUTE} runs each, ${(ms / 1000).toFixed(1)} s\n`)
  })

  it('malformed paths, methods, headers and bodies anywhere: no 5xx and only OperationOutcome errors', async () => {
    const started = performance.now()
    const prefix = fc.constantFrom('', '/api', '/api/records', '/fhir', '/fhir/Patient', '/auth', '/verify', '/assets', '/api/patients')
    const rawPath = fc
      .array(
        fc.oneof(
          fc.string({ maxLength: 12 }).map(encodeURIComponent),
          fc.constantFrom(
            '%ff',
            '%E0%A4%A',
            '%',
            '%zz',
            '..',
            '%2e%2e',
            '%00',
            '%c0%af',
            '%F0%9F%98',
            'index.html',
            '$everything',
            '_history',
          ),
        ),
        { minLength: 1, maxLength: 4 },
      )
      .map((parts) => `/${parts.join('/')}`)
    const request = fc
      .record({
        method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        prefix,
        rest: rawPath,
        query: fc.option(fc.constantFrom('?%ff', '?a=%E0%A4%A', '?_count=-1', '?patient=%00', '?format=pdf', '?x[]=1&x[]=2'), {
          nil: undefined,
        }),
        body: bodyOf(fc.jsonValue({ maxDepth: 3 })),
        headers,
      })
      .map(
        (r): Request => ({
          method: r.method,
          path: `${r.prefix}${r.rest}${r.query ?? ''}`,
          headers: headersOf(r.headers),
          body: r.body,
        }),
      )
    await fc.assert(
      fc.asyncProperty(request, async (req) => check(req, await send(req))),
      { numRuns: MALFORMED_RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    )
    process.stdout.write(`# http fuzz: malformed requests in ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
  })
})
