/**
 * Grants as FHIR R4 Consent resources (https://hl7.org/fhir/R4/consent.html): read, search, create
 * (a grant, by the same journaled operation as `medvault grant` and POST /api/grants) and
 * revocation by an update to status `inactive`. The on-chain grant is the source of truth: each
 * Consent is built from it when asked, never stored.
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { CodeableConcept, Coding, Consent, ConsentProvisionData, Patient, Reference } from '@medplum/fhirtypes'
import type { Context } from 'hono'
import { type Address, getAddress, isAddress } from 'viem'
import { chainTime } from '../../chain/index.js'
import { type GrantInfo, type GrantTerms, type Purpose, type TagReader, getGrant, listGrants } from '../../consent/index.js'
import { CATEGORIES, type Category, Sensitivity, type SensitivityName } from '../../core/index.js'
import { parseReference, validateFhirResource } from '../../fhir/index.js'
import { recordVersions } from '../../history/index.js'
import { grantOnce, operationFault, revokeOnce } from '../../operations/index.js'
import { releasePendingKeys } from '../../records/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { FHIR_CONTENT_TYPE, audit, custodialAccount, fhirResponse, sessionOf } from '../http.js'
import { HttpError } from '../outcomes.js'
import { errorResponses, secured } from '../routes/schemas.js'

const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason'
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode'
const CATEGORY_SYSTEM = 'https://medvault.dev/fhir/CodeSystem/category'
/** A patient's blinded category tag (8 bytes, hex) that the reader's tag table does not map: shown as is, never guessed. */
const CATEGORY_TAG_SYSTEM = 'https://medvault.dev/fhir/CodeSystem/category-tag'
const PURPOSE_SYSTEM = 'https://medvault.dev/fhir/CodeSystem/purpose'
const RECORD_SYSTEM = 'urn:ietf:rfc:3986'

/** Purposes of use as v3 ActReason codes (https://hl7.org/fhir/R4/v3/PurposeOfUse/vs.html). */
const PURPOSE_CODES: Record<Purpose, Coding> = {
  treatment: { system: ACT_REASON, code: 'TREAT', display: 'treatment' },
  payment: { system: ACT_REASON, code: 'HPAYMT', display: 'healthcare payment' },
  research: { system: ACT_REASON, code: 'HRESCH', display: 'healthcare research' },
  emergency: { system: ACT_REASON, code: 'ETREAT', display: 'Emergency Treatment' },
  other: { system: PURPOSE_SYSTEM, code: 'other', display: 'other' },
}

/** Sensitive kinds a category or "all" grant includes, as the v3 ActCode security labels record add reads. */
const SENSITIVE_LABELS: Record<SensitivityName, string> = {
  mentalHealth: 'PSY',
  substanceUse: 'ETH',
  sexualHealth: 'SEX',
  genetic: 'GDIS',
  restricted: 'R',
}

const accountReference = (chainId: number, account: Address, type: 'Patient'): Reference<Patient> => ({
  reference: `${type}/${account}`,
  identifier: { system: RECORD_SYSTEM, value: `eip155:${chainId}:${account}` },
})

/**
 * A grant as an R4 Consent: who shares what with whom, until when, for what, and whether it still
 * holds. Its categories are the reader's mapping of the grant's tags (see `listGrants`).
 */
export function consentResource(grant: GrantInfo, chain: { chainId: number; records: Address }): Consent {
  const end = grant.revokedAt && grant.revokedAt < grant.expiresAt ? grant.revokedAt : grant.expiresAt
  const data: ConsentProvisionData[] = (grant.scope === 'records' ? (grant.tokenIds ?? []) : []).map((tokenId) => ({
    meaning: 'instance',
    reference: {
      identifier: { system: RECORD_SYSTEM, value: `eip155:${chain.chainId}:${chain.records}/${tokenId}` },
      display: `record ${tokenId}`,
    },
  }))
  // The categories the reader's table maps; a tag it cannot map is listed as a tag, so that a
  // category grant never reads as a grant of everything (an empty provision.code).
  const code: CodeableConcept[] =
    grant.scope === 'categories'
      ? [
          ...(grant.categories ?? []).map((c) => ({ coding: [{ system: CATEGORY_SYSTEM, code: c }] })),
          ...grant.unknownTags.map((t) => ({ coding: [{ system: CATEGORY_TAG_SYSTEM, code: t }] })),
        ]
      : []
  const labels = (Object.keys(Sensitivity) as SensitivityName[])
    .filter((name) => grant.sensitive & Sensitivity[name])
    .map((name) => ({ system: ACT_CODE, code: SENSITIVE_LABELS[name] }))
  return {
    resourceType: 'Consent',
    id: grant.grantId.toString(),
    meta: { lastUpdated: (grant.revokedAt ?? grant.createdAt).toISOString() },
    status: grant.active ? 'active' : 'inactive',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: accountReference(chain.chainId, grant.patient, 'Patient'),
    dateTime: grant.createdAt.toISOString(),
    performer: [accountReference(chain.chainId, grant.patient, 'Patient')],
    policyRule: { coding: [{ system: ACT_CODE, code: 'OPTIN' }] },
    provision: {
      type: 'permit',
      period: { start: grant.createdAt.toISOString(), end: end.toISOString() },
      actor: [
        {
          role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
          reference: { identifier: { system: RECORD_SYSTEM, value: `eip155:${chain.chainId}:${grant.grantee}` } },
        },
      ],
      purpose: [PURPOSE_CODES[grant.purpose]],
      ...(labels.length > 0 ? { securityLabel: labels } : {}),
      ...(code.length > 0 ? { code } : {}),
      ...(data.length > 0 ? { data } : {}),
    },
  }
}

/** The account a reference names: `Type/0x…` or the identifier `eip155:<chain>:0x…`. */
function accountOf(ref: Reference | undefined, chainId: number): Address | undefined {
  const rest = ref?.reference ? parseReference(ref.reference) : undefined
  if (rest && isAddress(rest.id)) return getAddress(rest.id)
  const m = /^eip155:(\d+):(0x[0-9a-fA-F]{40})$/.exec(ref?.identifier?.value ?? '')
  return m && Number(m[1]) === chainId ? getAddress(m[2]!) : undefined
}

const invalid = (message: string, hint: string): never => {
  throw new HttpError(422, 'invalid', message, { hint })
}

/** The grant a Consent asks for; refuses what a grant cannot say (messages name the element, never a value). */
export async function grantFromConsent(
  deps: ServerDeps,
  consent: Consent,
  patient: Address,
): Promise<{ grantee: Address; terms: GrantTerms; expiresAt: Date; purpose: Purpose }> {
  const { chainId, records } = deps.ctx.deployment
  if (consent.status !== 'active')
    invalid('A new Consent must have status "active".', 'Revoke a grant by updating its Consent to "inactive".')
  if (accountOf(consent.patient, chainId) !== patient)
    invalid("The Consent's patient must be you.", 'Set patient to {"reference": "Patient/<your address>"}.')
  const provision = consent.provision
  if (!provision || (provision.type ?? 'permit') !== 'permit' || provision.provision?.length)
    invalid('The Consent needs one permit provision without nested provisions.', 'A grant permits; it has no exceptions.')
  const actors = provision!.actor ?? []
  const grantee = actors.length === 1 ? accountOf(actors[0]!.reference, chainId) : undefined
  if (!grantee)
    invalid(
      'provision.actor must name exactly one medvault account.',
      'Use {"reference": "Practitioner/0x…"} or the identifier eip155:<chain>:0x….',
    )
  const endText = provision!.period?.end
  const expiresAt = endText ? new Date(endText) : undefined
  if (!expiresAt || Number.isNaN(expiresAt.getTime()))
    invalid('provision.period.end is required: a grant always ends.', 'Give an end date.')
  if (expiresAt!.getTime() <= (await chainTime(deps.ctx.publicClient)).getTime())
    invalid('provision.period.end has already passed on the chain.', 'Give an end in the future.')
  const purposes = (provision!.purpose ?? []).map(
    (p) => (Object.entries(PURPOSE_CODES) as [Purpose, Coding][]).find(([, c]) => c.system === p.system && c.code === p.code)?.[0],
  )
  if (purposes.length > 1 || purposes.includes(undefined))
    invalid(
      'provision.purpose must be at most one of TREAT, HPAYMT, HRESCH, ETREAT (v3 ActReason).',
      'Without it, the purpose is treatment.',
    )
  const sensitive = (provision!.securityLabel ?? []).reduce((mask, label) => {
    const name = (Object.entries(SENSITIVE_LABELS) as [SensitivityName, string][]).find(([, code]) => code === label.code)?.[0]
    if (!name) return invalid('provision.securityLabel holds a label a grant cannot include.', 'Use PSY, ETH, SEX, GDIS or R.')
    return mask | Sensitivity[name]
  }, 0)
  let terms: GrantTerms
  if (provision!.data?.length) {
    if (provision!.code?.length) invalid('A Consent shares either provision.data or provision.code, not both.', 'Make two Consents.')
    const tokenIds: bigint[] = []
    for (const d of provision!.data!) {
      const rest = d.reference?.reference ? parseReference(d.reference.reference) : undefined
      const m = /^eip155:(\d+):(0x[0-9a-fA-F]{40})\/(\d+)$/.exec(d.reference?.identifier?.value ?? '')
      const id =
        rest && /^[1-9]\d{0,30}$/.test(rest.id)
          ? BigInt(rest.id)
          : m && Number(m[1]) === chainId && getAddress(m[2]!) === records
            ? BigInt(m[3]!)
            : undefined
      if (id === undefined) return invalid('provision.data names something that is not a record.', 'Use {"reference": "Observation/<id>"}.')
      // A logical resource is shared with every version of it.
      for (const version of await recordVersions(deps.ctx, id)) {
        if (version.owner !== patient) invalid('provision.data names a record that is not yours.', 'Share only your own records.')
        tokenIds.push(version.tokenId)
      }
    }
    terms = { scope: 'records', tokenIds }
  } else if (provision!.code?.length) {
    const categories = provision!.code!.flatMap((c) => c.coding ?? []).map((c) => c.code)
    if (categories.some((c) => !(CATEGORIES as readonly (string | undefined)[]).includes(c)))
      invalid(`provision.code holds a code that is not a medvault category (${CATEGORY_SYSTEM}).`, `Use: ${CATEGORIES.join(', ')}.`)
    terms = { scope: 'categories', categories: categories as Category[], sensitive }
  } else {
    terms = { scope: 'all', sensitive }
  }
  return { grantee: grantee!, terms, expiresAt: expiresAt!, purpose: purposes[0] ?? 'treatment' }
}

async function readJson(c: Context<ServerEnv>): Promise<Consent> {
  let json: unknown
  try {
    json = JSON.parse(await c.req.text())
  } catch {
    throw new HttpError(400, 'structure', 'The request body is not JSON.', { hint: 'Send a FHIR R4 Consent as application/fhir+json.' })
  }
  if (typeof json !== 'object' || json === null || (json as { resourceType?: unknown }).resourceType !== 'Consent')
    throw new HttpError(400, 'invalid', 'This takes a Consent resource.', { hint: 'Its resourceType must be "Consent".' })
  validateFhirResource(json)
  return json as Consent
}

const grantIdOf = (value: string): bigint => {
  if (!/^[1-9]\d{0,30}$/.test(value)) throw new HttpError(404, 'not-found', `There is no Consent "${value}".`)
  return BigInt(value)
}

export function consentRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  const fhirBase = `${deps.baseUrl}/fhir`
  const chain = { chainId: deps.ctx.deployment.chainId, records: deps.ctx.deployment.records }

  // Registered first, so `Consent/_history` is not read as a Consent id.
  for (const path of ['/fhir/Consent/_history', '/fhir/Consent/:id/_history', '/fhir/Consent/:id/_history/:vid'])
    app.all(path, () => {
      throw new HttpError(405, 'not-supported', 'Consents have no version history here: the chain keeps the grant and its revocation.', {
        headers: { allow: '' },
      })
    })

  app.post('/fhir/Consent/_search', () => {
    throw new HttpError(405, 'not-supported', 'Consents are searched with GET /fhir/Consent?patient=&actor=&status=.', {
      headers: { allow: 'GET' },
    })
  })

  /** The caller's keys when this server holds them: its tag tables map a grant's tags to categories. */
  const viewerOf = async (caller: Address): Promise<TagReader | undefined> => deps.keyring.get(caller)

  /** A grant the caller may see: their own (as the patient) or one made to them. */
  async function visibleGrant(caller: Address, grantId: bigint): Promise<GrantInfo> {
    const grant = await getGrant(deps.ctx, grantId, await viewerOf(caller)).catch(() => {
      throw new HttpError(404, 'not-found', `There is no Consent ${grantId}.`)
    })
    if (grant.patient !== caller && grant.grantee !== caller) throw new HttpError(404, 'not-found', `There is no Consent ${grantId}.`)
    return grant
  }

  const respond = async (c: Context<ServerEnv>, grant: GrantInfo, status: 200 | 201 = 200) =>
    c.body(JSON.stringify(consentResource(grant, chain)), status, {
      'content-type': FHIR_CONTENT_TYPE,
      location: `${fhirBase}/Consent/${grant.grantId}`,
      'last-modified': (grant.revokedAt ?? grant.createdAt).toUTCString(),
    })

  app.openapi(
    createRoute({
      method: 'get',
      path: '/fhir/Consent',
      summary: "Search grants as Consents: the caller's own (as the patient), or those made to the caller; by patient, actor and status",
      tags: ['fhir'],
      ...secured,
      responses: { 200: { description: 'A searchset Bundle of Consents' }, ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const q = new URL(c.req.url).searchParams
      const unknown = [...q.keys()].filter((k) => !['patient', 'actor', 'status', '_format'].includes(k))
      if (unknown.length > 0 && /handling=strict/i.test(c.req.header('prefer') ?? ''))
        throw new HttpError(400, 'not-supported', 'Consent search takes patient, actor and status only.')
      const idOf = (v: string | null) => (v ? accountOf({ reference: v.includes('/') ? v : `Patient/${v}` }, chain.chainId) : undefined)
      const patients = q.get('patient')
        ? [idOf(q.get('patient'))]
        : [
            caller,
            ...(await deps.index.patientsSharingWith(caller)).map((p) => (typeof p === 'string' ? p : (p as { patient: Address }).patient)),
          ]
      const actor = idOf(q.get('actor'))
      const status = q.get('status')
      const viewer = await viewerOf(caller)
      const grants = (
        await Promise.all([...new Set(patients.filter((p): p is Address => !!p))].map((p) => listGrants(deps.ctx, p, viewer)))
      )
        .flat()
        .filter((g) => g.patient === caller || g.grantee === caller)
        .filter((g) => !actor || g.grantee === actor)
        .filter((g) => !status || (status === 'active') === g.active)
      return fhirResponse(c, {
        resourceType: 'Bundle',
        type: 'searchset',
        total: grants.length,
        link: [{ relation: 'self', url: `${fhirBase}/Consent${q.size ? `?${q}` : ''}` }],
        entry: await Promise.all(
          grants.map(async (g) => ({
            fullUrl: `${fhirBase}/Consent/${g.grantId}`,
            resource: consentResource(g, chain),
            search: { mode: 'match' },
          })),
        ),
      })
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/fhir/Consent/{id}',
      summary: 'Read a grant as a Consent (the patient or the grantee)',
      tags: ['fhir'],
      ...secured,
      request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: { description: 'The Consent' }, ...errorResponses },
    }),
    async (c) => respond(c, await visibleGrant(sessionOf(c).address, grantIdOf(c.req.valid('param').id))),
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/fhir/Consent',
      summary: 'Make a grant from a Consent (a patient whose keys this server holds), as medvault grant does',
      tags: ['fhir'],
      ...secured,
      responses: { 201: { description: 'The grant as a Consent, with Location' }, ...errorResponses },
    }),
    async (c) => {
      const patient = await custodialAccount(deps, sessionOf(c).address)
      const asked = await grantFromConsent(deps, await readJson(c), patient.address)
      // The CLI's journaled operation: a retried request finishes the first one or returns its grant.
      const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'grant')
      const { grantId, outcome } = await grantOnce(deps.ctx, {
        grantor: patient,
        patient: patient.address,
        ...asked,
        journalDir: deps.operationsDir,
        releaseKeys: (id) => releasePendingKeys(deps.ctx, patient, { grantId: id }),
        ...(checkpoint ? { checkpoint } : {}),
      })
      if (outcome !== 'done-before')
        await audit(deps, { actor: patient.address, action: 'grant', patient: patient.address, purpose: asked.purpose, outcome: 'allowed' })
      return respond(c, await getGrant(deps.ctx, grantId, patient), outcome === 'done-before' ? 200 : 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/fhir/Consent/{id}',
      summary: 'Revoke a grant by updating its Consent to status inactive (the patient); nothing else of a grant changes',
      tags: ['fhir'],
      ...secured,
      request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: { description: 'The revoked grant as a Consent' }, ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const grantId = grantIdOf(c.req.valid('param').id)
      const grant = await visibleGrant(caller, grantId)
      if (grant.patient !== caller) throw new HttpError(403, 'forbidden', 'Only the patient can revoke their grant.')
      const body = await readJson(c)
      if (body.id !== undefined && body.id !== grantId.toString())
        throw new HttpError(400, 'invalid', "The Consent's id does not match the URL.")
      if (body.status !== 'inactive')
        invalid('A grant changes only by revocation: update its Consent with status "inactive".', 'Make a new Consent to share more.')
      if (!grant.active) return respond(c, grant)
      const patient = await custodialAccount(deps, caller)
      const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'revoke')
      await revokeOnce(deps.ctx, {
        grantor: patient.chainAccount,
        grantId,
        journalDir: deps.operationsDir,
        ...(checkpoint ? { checkpoint } : {}),
      })
      await audit(deps, { actor: caller, action: 'revoke', patient: caller, outcome: 'allowed' })
      return respond(c, await getGrant(deps.ctx, grantId, patient))
    },
  )

  app.on(['PATCH', 'DELETE'], '/fhir/Consent/:id', () => {
    throw new HttpError(405, 'not-supported', 'A grant is revoked by updating its Consent to status "inactive".', {
      headers: { allow: 'GET, PUT' },
    })
  })
}
