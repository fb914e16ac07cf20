import { createHash } from 'node:crypto'
import type { Binary, Bundle, BundleEntry, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes'
import { type Address, getAddress, isAddress } from 'viem'
import { PATIENT_ELEMENTS, mapReferences, parseReference } from '../fhir/index.js'
import type { AssembleHistoryReturnType, HistoryEntry } from './assembleHistory.js'

/** The security tag a record carries once its signature, issuer and commitment checked out. */
export const VERIFIED_TAG = {
  system: 'https://medvault.dev/fhir/CodeSystem/verification',
  code: 'verified',
  display: 'Verified by medvault',
}

/** The tag of a version an amendment replaced (search leaves such versions out). */
export const SUPERSEDED_TAG = {
  system: 'https://medvault.dev/fhir/CodeSystem/record-status',
  code: 'superseded',
  display: 'Replaced by a later version (an amendment)',
}

type Chain = { chainId: number; records: Address }

/**
 * How a history's resources refer to each other: with a server base, RESTful (`Type/id`, entries'
 * fullUrl `[base]/Type/id`), as FHIR servers serve search results; without one (a file export),
 * each resource is `urn:uuid:` named after its logical id on this chain, as a transaction Bundle
 * does, so the file imports again with its links.
 */
export type HistoryLinks = {
  /** The fullUrl of a resource in a Bundle. */
  fullUrl(resourceType: string, id: string): string
  /** Its references with every reference to a record of the history or to the patient pointed at what serves it. */
  resolve(resource: Resource): Resource
}

function uuidOf(name: string): string {
  const h = createHash('sha256').update(`medvault.fhir.v1|${name}`).digest('hex')
  // RFC 9562 version 8 (name-based, custom hash), variant 10.
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/**
 * The links of a patient's history. A reference resolves to a record of the history when it names
 * the record's logical id or any of its versions' token ids (`Type/<token>`), or the id the record
 * was sealed with (`Type/<id>` as an import resolves a Bundle, or `urn:uuid:<id>` as records
 * imported before references were resolved still say); a reference to a Patient that is not a
 * medvault account, or an unresolved `urn:uuid:` in the subject/patient/beneficiary, means the
 * history's patient.
 */
export function historyLinks(
  history: Pick<AssembleHistoryReturnType, 'patient' | 'entries'>,
  params: Chain & { baseUrl?: string },
): HistoryLinks {
  const patient = getAddress(history.patient)
  const fullUrl = (type: string, id: string) =>
    params.baseUrl
      ? `${params.baseUrl}/${type}/${id}`
      : `urn:uuid:${uuidOf(type === 'Patient' ? `eip155:${params.chainId}:${id}` : `eip155:${params.chainId}:${params.records}/${id}`)}`
  const reference = (type: string, id: string) => (params.baseUrl ? `${type}/${id}` : fullUrl(type, id))
  const patientReference = reference('Patient', patient)

  const targets = new Map<string, string>()
  for (const e of history.entries) {
    const stored = e.resource?.id
    if (stored) {
      const type = e.resource!.resourceType
      const to = reference(type, logicalIdOf(e))
      targets.set(`${type}/${stored}`, to)
      targets.set(`urn:uuid:${stored}`, to)
    }
  }
  // Token ids last: a `Type/<digits>` reference most likely names what this server served as such.
  for (const e of history.entries) {
    const type = e.resource?.resourceType ?? 'Binary'
    const to = reference(type, logicalIdOf(e))
    targets.set(`${type}/${e.record.tokenId}`, to)
    targets.set(`${type}/${logicalIdOf(e)}`, to)
  }
  const patientElements = new Set<string>(PATIENT_ELEMENTS)

  return {
    fullUrl,
    resolve(resource) {
      return mapReferences(resource, (ref, path) => {
        const direct = targets.get(ref)
        if (direct) return direct
        const rest = parseReference(ref)
        if (rest) {
          if (rest.type === 'Patient') return !isAddress(rest.id) || getAddress(rest.id) === patient ? patientReference : undefined
          return rest.version ? undefined : targets.get(`${rest.type}/${rest.id}`)
        }
        if (ref.startsWith('urn:uuid:') && path.length === 1 && patientElements.has(path[0]!)) return patientReference
        return undefined
      })
    },
  }
}

const logicalIdOf = (entry: HistoryEntry) => (entry.version?.logicalId ?? entry.record.tokenId).toString()

/**
 * A record as a FHIR resource: its id is its logical id (the token id of its first version),
 * `meta.versionId` its version, `meta.source` names the token, and tags say it verified and, for
 * a version an amendment replaced, that it was. A binary record becomes a FHIR Binary. With
 * `links`, its references point at what serves the records they name.
 */
export function recordResource(entry: HistoryEntry, chain: Chain, links?: HistoryLinks): Resource {
  const { record } = entry
  const base: Resource =
    entry.resource ??
    ({ resourceType: 'Binary', contentType: entry.meta.contentType, data: entry.binary!.toString('base64') } satisfies Binary)
  const linked = links ? links.resolve(base) : base
  const superseded = entry.version?.superseded ?? record.supersededBy !== 0n
  return {
    ...linked,
    id: logicalIdOf(entry),
    meta: {
      ...base.meta,
      versionId: String(entry.version?.versionId ?? 1),
      lastUpdated: record.issuedAt.toISOString(),
      source: `eip155:${chain.chainId}:${chain.records}/${record.tokenId}`,
      tag: [
        ...(base.meta?.tag ?? []).filter((t) => t.system !== VERIFIED_TAG.system && t.system !== SUPERSEDED_TAG.system),
        VERIFIED_TAG,
        ...(superseded ? [SUPERSEDED_TAG] : []),
      ],
    },
  } as Resource
}

/** The Patient a medvault account stands for: no demographics, which never leave the records. */
export function patientResource(patient: Address, chainId: number): Patient {
  return {
    resourceType: 'Patient',
    id: patient,
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `eip155:${chainId}:${patient}` }],
  }
}

/**
 * A history as a FHIR Bundle: every entry has a fullUrl and every reference to a record of the
 * history, or to the patient, resolves within the Bundle or by a read. Records that failed
 * verification come as OperationOutcome entries.
 */
export function historyBundle(
  history: AssembleHistoryReturnType,
  params: Chain & {
    type: 'searchset' | 'collection'
    baseUrl?: string
    includePatient?: boolean
    /** Links built from a larger history than the entries (a page of search results links into the whole history). */
    links?: HistoryLinks
  },
): Bundle {
  const links = params.links ?? historyLinks(history, params)
  const match = params.type === 'searchset' ? { search: { mode: 'match' as const } } : {}
  const resources: Resource[] = [
    ...(params.includePatient ? [patientResource(history.patient, params.chainId)] : []),
    ...history.entries.map((e) => recordResource(e, params, links)),
  ]
  const entries: BundleEntry[] = resources.map((resource) => ({
    fullUrl: links.fullUrl(resource.resourceType, resource.id!),
    resource,
    ...match,
  }))
  for (const failure of history.failures) {
    const outcome: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'warning',
          code: 'processing',
          diagnostics: `Record ${failure.tokenId} was left out: ${failure.message}`,
          details: { text: failure.code },
        },
      ],
    }
    entries.push({ resource: outcome, ...(params.type === 'searchset' ? { search: { mode: 'outcome' as const } } : {}) })
  }
  return {
    resourceType: 'Bundle',
    type: params.type,
    timestamp: new Date().toISOString(),
    ...(params.type === 'searchset' ? { total: resources.length } : {}),
    entry: entries,
  }
}
