import type { Bundle, BundleEntry, Patient, Resource } from '@medplum/fhirtypes'
import type { Hex } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { writeAndWait } from '../chain/index.js'
import { providerRegistryAbi } from '../contracts/index.js'
import { InvalidInputError } from '../errors.js'
import { canonicalFhirBytes } from '../fhir/index.js'
import { FHIR_JSON, readRecord } from '../records/index.js'
import type { RecordsContext } from '../core/index.js'
import { type IssuedHealthCard, issueHealthCard } from './issue.js'
import { minimizeBundle } from './minimize.js'
import { type HealthCardIssuerKey, healthCardKeyFromSeed } from './issuerKey.js'
import { medvaultIssuerUrl } from './trust.js'

const CARD_RESOURCES = new Set(['Immunization', 'Observation', 'DiagnosticReport'])

/** Publishes the provider's card key in the registry unless it is there already. */
export async function ensureHealthCardKey(
  ctx: Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>,
  provider: UnlockedAccount,
): Promise<HealthCardIssuerKey> {
  const key = await healthCardKeyFromSeed(provider.healthCardSeed)
  const read = { address: ctx.deployment.registry, abi: providerRegistryAbi } as const
  const keys = await ctx.publicClient.readContract({ ...read, functionName: 'healthCardKeysOf', args: [provider.address] })
  if (!keys.some((k) => k.x.toLowerCase() === key.x && k.y.toLowerCase() === key.y)) {
    await writeAndWait(ctx, provider.chainAccount, { ...read, functionName: 'addHealthCardKey', args: [key.x as Hex, key.y as Hex] })
  }
  return key
}

function patientFrom(resources: Resource[]): Patient | undefined {
  for (const r of resources) {
    if (r.resourceType === 'Patient') return r
    if (r.resourceType === 'Bundle') {
      const inner = patientFrom((r.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])))
      if (inner) return inner
    }
  }
  return undefined
}

export function cardResources(resources: Resource[]): Resource[] {
  return resources.flatMap((r) =>
    r.resourceType === 'Bundle'
      ? cardResources((r.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])))
      : CARD_RESOURCES.has(r.resourceType)
        ? [r]
        : [],
  )
}

/**
 * Issues a SMART Health Card from records the provider may read (the patient shares them with it,
 * as with any reader): the Patient (name, birth date) from the records or `patient`, then the
 * immunizations and results, each pointing at the Patient. The chain never holds the Patient.
 */
export async function issueCardFromRecords(
  ctx: RecordsContext,
  params: { provider: UnlockedAccount; tokenIds: bigint[]; patient?: Patient; issuerBaseUrl: string; rid?: string },
): Promise<IssuedHealthCard & { iss: string; kid: string }> {
  const resources: Resource[] = []
  for (const tokenId of params.tokenIds) {
    const { bytes, meta } = await readRecord(ctx, { tokenId, reader: params.provider })
    if (meta.contentType !== FHIR_JSON)
      throw new InvalidInputError(`Record #${tokenId} is not a FHIR resource, so it cannot go on a health card.`)
    resources.push(JSON.parse(bytes.toString('utf8')) as Resource)
  }
  const patient = params.patient ?? patientFrom(resources)
  if (!patient?.name?.length || !patient.birthDate) {
    throw new InvalidInputError("A health card needs the patient's name and birth date, which these records do not carry.", {
      hint: 'Give --patient-file with a FHIR Patient resource.',
    })
  }
  const facts = cardResources(resources)
  if (facts.length === 0) throw new InvalidInputError('None of these records is an immunization or a result a health card can carry.')
  const entries: BundleEntry[] = [
    { fullUrl: 'resource:0', resource: { resourceType: 'Patient', name: patient.name, birthDate: patient.birthDate } },
    ...facts.map((r, i) => {
      const linked = { ...r } as Resource & { patient?: unknown; subject?: unknown }
      if (r.resourceType === 'Immunization') linked.patient = { reference: 'resource:0' }
      else linked.subject = { reference: 'resource:0' }
      return { fullUrl: `resource:${i + 1}`, resource: linked as Resource }
    }),
  ]
  const bundle: Bundle = { resourceType: 'Bundle', type: 'collection', entry: entries }
  const key = await ensureHealthCardKey(ctx, params.provider)
  const iss = medvaultIssuerUrl(params.issuerBaseUrl, params.provider.address)
  const types = [
    ...(facts.some((r) => r.resourceType === 'Immunization') ? ['https://smarthealth.cards#immunization'] : []),
    ...(facts.some((r) => r.resourceType !== 'Immunization') ? ['https://smarthealth.cards#laboratory'] : []),
  ]
  const card = await issueHealthCard({
    bundle,
    issuerUrl: iss,
    privateJwk: key.privateJwk,
    types,
    ...(params.rid ? { rid: params.rid } : {}),
  })
  return { ...card, iss, kid: key.kid }
}

/**
 * Whether a card carries exactly what records `tokenIds` say: each record's immunizations and
 * results, minimised the way a card minimises them, must appear in the card's bundle. The reader
 * must be allowed to read the records; the check then ties the card to the records' on-chain
 * commitments (opening a record verifies its content against its commitment).
 */
export async function cardMatchesRecords(
  ctx: RecordsContext,
  params: { cardBundle: Bundle; tokenIds: bigint[]; reader: UnlockedAccount },
): Promise<{ ok: boolean; missing: bigint[] }> {
  const inCard = new Set(
    (params.cardBundle.entry ?? [])
      .filter((e) => e.resource && e.resource.resourceType !== 'Patient')
      .map((e) => canonicalJson(stripLinks(e.resource!))),
  )
  const missing: bigint[] = []
  for (const tokenId of params.tokenIds) {
    const { bytes } = await readRecord(ctx, { tokenId, reader: params.reader })
    const facts = cardResources([JSON.parse(bytes.toString('utf8')) as Resource])
    const minimized = minimizeBundle({
      resourceType: 'Bundle',
      type: 'collection',
      entry: facts.map((resource, i) => ({ fullUrl: `resource:${i}`, resource })),
    })
    const all = (minimized.entry ?? []).every((e) => e.resource && inCard.has(canonicalJson(stripLinks(e.resource))))
    if (!all || facts.length === 0) missing.push(tokenId)
  }
  return { ok: missing.length === 0, missing }
}

/** The patient link differs between a card (resource:0) and a record (its own reference): compare without it. */
function stripLinks(resource: Resource): Resource {
  const { patient: _patient, subject: _subject, ...rest } = resource as Resource & { patient?: unknown; subject?: unknown }
  return rest as Resource
}

const canonicalJson = (resource: Resource) => Buffer.from(canonicalFhirBytes(resource)).toString('utf8')
