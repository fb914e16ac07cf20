import { type OpenAPIHono, createRoute } from '@hono/zod-openapi'
import type { Bundle, BundleEntry } from '@medplum/fhirtypes'
import { type Address, getAddress, isAddress } from 'viem'
import { encryptionKeyOf } from '../../directory/index.js'
import { checkPatientOf, validateFhirResource } from '../../fhir/index.js'
import { importBundle, parseImportBundle } from '../../import/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { audit, custodialProvider, fhirResponse, sessionOf } from '../http.js'
import { HttpError, toOutcome } from '../outcomes.js'
import { errorResponses, secured } from '../routes/schemas.js'

type JsonObject = Record<string, unknown>

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  422: 'Unprocessable Entity',
  503: 'Service Unavailable',
}

/**
 * The patient a transaction is for: its Patient entry, by id or by the `eip155:<chain>:<address>`
 * identifier medvault's own Patient resources carry (so an exported Bundle imports as it is).
 */
function patientOf(bundle: JsonObject, chainId: number): Address {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as JsonObject[]) : []
  const patients = entries.map((e) => e.resource as JsonObject | undefined).filter((r) => r?.resourceType === 'Patient')
  for (const p of patients) {
    if (typeof p!.id === 'string' && isAddress(p!.id)) return getAddress(p!.id)
    for (const id of (p!.identifier as { value?: string }[] | undefined) ?? []) {
      const m = /^eip155:(\d+):(0x[0-9a-fA-F]{40})$/.exec(id.value ?? '')
      if (m && Number(m[1]) === chainId) return getAddress(m[2]!)
    }
  }
  throw new HttpError(422, 'invalid', 'The transaction does not say whose records these are.', {
    hint: `Include the Patient entry with id set to the patient's address, or an identifier "eip155:${chainId}:<address>".`,
  })
}

/** POST /fhir: a transaction or batch Bundle of a patient's resources, each issued as a record, minted in batches. */
export function transactionRoute(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/fhir',
      summary:
        "Import a transaction Bundle: each resource becomes a record of the Patient it names (a provider whose keys this server holds, under the patient's standing authorisation)",
      tags: ['fhir'],
      ...secured,
      responses: { 200: { description: 'A transaction-response Bundle (application/fhir+json)' }, ...errorResponses },
    }),
    async (c) => {
      const issuer = await custodialProvider(deps, sessionOf(c).address)
      const bytes = new Uint8Array(await c.req.arrayBuffer())
      let json: unknown
      try {
        json = JSON.parse(Buffer.from(bytes).toString('utf8'))
      } catch {
        throw new HttpError(400, 'structure', 'The request body is not JSON.', { hint: 'Send a FHIR R4 Bundle as application/fhir+json.' })
      }
      const body = json as JsonObject
      if (
        typeof json !== 'object' ||
        json === null ||
        body.resourceType !== 'Bundle' ||
        (body.type !== 'transaction' && body.type !== 'batch')
      ) {
        throw new HttpError(422, 'invalid', 'POST /fhir takes a FHIR Bundle of type transaction or batch.', {
          hint: 'Create single resources with POST /api/records.',
        })
      }
      const patient = patientOf(body, deps.ctx.deployment.chainId)
      const encryptionPublicKey = await encryptionKeyOf(deps.ctx, patient)
      if (!encryptionPublicKey)
        throw new HttpError(422, 'invalid', 'This patient has not published an encryption key, so no record can be sealed for them.')
      const entries = Array.isArray(body.entry) ? (body.entry as JsonObject[]) : []
      // A batch is processed entry by entry (https://hl7.org/fhir/R4/http.html#brules): an invalid
      // entry gets its own error response and the others are issued. A transaction is all or nothing.
      const failed = new Map<number, BundleEntry>()
      let toImport = bytes
      let kept = entries.map((_, i) => i)
      if (body.type === 'batch') {
        const patientEntries = entries.filter((e) => (e.resource as JsonObject | undefined)?.resourceType === 'Patient')
        entries.forEach((entry, i) => {
          if ((entry.resource as JsonObject | undefined)?.resourceType === 'Patient') return
          try {
            validateFhirResource(entry.resource)
            checkPatientOf(entry.resource, patient, deps.ctx.deployment.chainId)
            // The entry alone with the Patient: the other checks the whole import makes.
            const one = { resourceType: 'Bundle', type: 'batch', entry: [...patientEntries, entry] }
            parseImportBundle(new TextEncoder().encode(JSON.stringify(one)))
          } catch (error) {
            const { status, outcome } = toOutcome(error)
            failed.set(i, { response: { status: `${status} ${STATUS_TEXT[status] ?? 'Error'}`, outcome } })
          }
        })
        kept = entries.map((_, i) => i).filter((i) => !failed.has(i))
        toImport = new TextEncoder().encode(JSON.stringify({ ...body, entry: kept.map((i) => entries[i]) }))
      }
      const tokenOf = new Map<number, bigint>()
      if (kept.some((i) => (entries[i]?.resource as JsonObject | undefined)?.resourceType !== 'Patient')) {
        const parsed = parseImportBundle(toImport, { patient })
        const result = await importBundle(deps.ctx, {
          issuer: { chainAccount: issuer.chainAccount, encryptionSeed: issuer.encryptionSeed, tagSecret: issuer.tagSecret },
          patient: { address: patient, encryptionPublicKey },
          bundle: parsed,
          journalDir: deps.importsDir,
        })
        await audit(deps, {
          actor: issuer.address,
          action: 'issue',
          patient,
          outcome: 'allowed',
          reason: `import-${result.records.length}`,
        })
        for (const r of result.records) tokenOf.set(kept[r.entry]!, r.tokenId)
      }
      const response: Bundle = {
        resourceType: 'Bundle',
        type: body.type === 'batch' ? 'batch-response' : 'transaction-response',
        entry: entries.map((e, i): BundleEntry => {
          const failure = failed.get(i)
          if (failure) return failure
          const resource = e.resource as JsonObject
          const tokenId = tokenOf.get(i)
          if (tokenId !== undefined)
            return { response: { status: '201 Created', location: `${resource.resourceType}/${tokenId}`, etag: 'W/"1"' } }
          return { response: { status: '200 OK', location: `Patient/${patient}` } }
        }),
      }
      return fhirResponse(c, response)
    },
  )
}
