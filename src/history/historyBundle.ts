import type { Binary, Bundle, BundleEntry, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes'
import type { Address } from 'viem'
import type { AssembleHistoryReturnType, HistoryEntry } from './assembleHistory.js'

/** The security tag a record carries once its signature, issuer and commitment checked out. */
export const VERIFIED_TAG = {
  system: 'https://medvault.dev/fhir/CodeSystem/verification',
  code: 'verified',
  display: 'Verified by medvault',
}

/**
 * A record as a FHIR resource: its id is the token id, `meta.source` names the token, and a tag
 * says it verified. A binary record becomes a FHIR Binary.
 */
export function recordResource(entry: HistoryEntry, chain: { chainId: number; records: Address }): Resource {
  const { record } = entry
  const base: Resource =
    entry.resource ??
    ({ resourceType: 'Binary', contentType: entry.meta.contentType, data: entry.binary!.toString('base64') } satisfies Binary)
  return {
    ...base,
    id: record.tokenId.toString(),
    meta: {
      ...base.meta,
      lastUpdated: record.issuedAt.toISOString(),
      source: `eip155:${chain.chainId}:${chain.records}/${record.tokenId}`,
      tag: [...(base.meta?.tag ?? []).filter((t) => t.system !== VERIFIED_TAG.system), VERIFIED_TAG],
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

/** A history as a FHIR Bundle; records that failed verification come as OperationOutcome entries. */
export function historyBundle(
  history: AssembleHistoryReturnType,
  params: { type: 'searchset' | 'collection'; baseUrl?: string; chainId: number; records: Address; includePatient?: boolean },
): Bundle {
  const fullUrl = (r: Resource) => (params.baseUrl ? `${params.baseUrl}/${r.resourceType}/${r.id}` : undefined)
  const match = params.type === 'searchset' ? { search: { mode: 'match' as const } } : {}
  const resources: Resource[] = [
    ...(params.includePatient ? [patientResource(history.patient, params.chainId)] : []),
    ...history.entries.map((e) => recordResource(e, params)),
  ]
  const entries: BundleEntry[] = resources.map((resource) => ({
    ...(fullUrl(resource) ? { fullUrl: fullUrl(resource)! } : {}),
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
