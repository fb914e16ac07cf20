import type { Bundle, Patient } from '@medplum/fhirtypes'
import type { Address } from 'viem'
import { syntheticPatientBundle } from '../import/index.js'
import { ACCOUNT_IDENTIFIER_SYSTEM } from './parseArchiveBundle.js'

export type SyntheticArchiveParameters = {
  /** The patients' medvault accounts; each gets a Patient resource naming it. */
  patients: readonly Address[]
  /** Resources per patient besides the Patient. */
  resourcesPerPatient: number
  chainId: number
  /** PRNG seed; the same seed gives the same Bundle. */
  seed?: number
  /** Share (0..1) of conditions and reports labelled sensitive. Default 0.02. */
  sensitiveShare?: number
}

/**
 * A synthetic archive for tests and benchmarks: one `collection` Bundle with the histories of
 * several patients (as {@link syntheticPatientBundle} makes them), each Patient carrying its
 * medvault account as a CAIP-10 identifier. Every person, date and value is invented.
 */
export function syntheticArchiveBundle(params: SyntheticArchiveParameters): Bundle {
  const seed = params.seed ?? 1
  const entry = params.patients.flatMap((account, i) => {
    const history = syntheticPatientBundle({
      resources: params.resourcesPerPatient,
      seed: seed * 100_003 + i,
      type: 'collection',
      ...(params.sensitiveShare === undefined ? {} : { sensitiveShare: params.sensitiveShare }),
    })
    return (history.entry ?? []).map((e) => {
      if (e.resource?.resourceType !== 'Patient') return e
      const patient: Patient = {
        ...e.resource,
        identifier: [...(e.resource.identifier ?? []), { system: ACCOUNT_IDENTIFIER_SYSTEM, value: `eip155:${params.chainId}:${account}` }],
      }
      return { ...e, resource: patient }
    })
  })
  return { resourceType: 'Bundle', type: 'collection', entry }
}
