import { type Account, type Address, getAddress } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import { listGrants, revokeGrant, setDelegate } from '../consent/index.js'
import { consentRegistryAbi, medicalRecordAbi } from '../contracts/index.js'
import { revokeProvider } from '../directory/index.js'
import type { RecordsContext } from '../core/index.js'
import { listRecords } from '../records/index.js'
import { type EraseRecordsReturnType, type ErasureStep, eraseRecords } from './eraseRecords.js'

export type EraseAccountParameters = {
  patient: Account
  importJournalDir?: string
  /** Where the single-operation journals are (`<home>/operations`). */
  operationJournalDir?: string
  onStep?: (step: ErasureStep) => void
}

export type EraseAccountReturnType = EraseRecordsReturnType & {
  /** Grants that were still active and are now revoked. */
  grantsRevoked: bigint[]
  /** Providers whose standing authorisation to issue to the patient was still running and is now ended. */
  authorizationsEnded: Address[]
  /** Delegates removed. */
  delegatesRemoved: Address[]
}

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment' | 'store' | 'keySlips' | 'audit'>

/**
 * Erases everything a patient's account holds: every record (see {@link eraseRecords}), then every
 * active grant is revoked, every standing authorisation of a provider ended and every delegate
 * removed, so nobody can issue to, share or act for the account any more. Each step looks at the
 * chain first, so running it again after an interruption finishes what is left. The account's keys
 * in the keystore are the caller's to destroy last (`keystore.remove`).
 */
export async function eraseAccount(ctx: Ctx, params: EraseAccountParameters): Promise<EraseAccountReturnType> {
  const patient = getAddress(params.patient.address)
  const records = await listRecords(ctx, { patient })
  const erased = await eraseRecords(ctx, {
    patient: params.patient,
    tokenIds: records.map((r) => r.tokenId),
    ...(params.importJournalDir ? { importJournalDir: params.importJournalDir } : {}),
    ...(params.operationJournalDir ? { operationJournalDir: params.operationJournalDir } : {}),
    ...(params.onStep ? { onStep: params.onStep } : {}),
  })

  const grantsRevoked: bigint[] = []
  for (const grant of await listGrants(ctx, patient)) {
    if (!grant.active) continue
    await revokeGrant(ctx, { grantor: params.patient, grantId: grant.grantId })
    grantsRevoked.push(grant.grantId)
  }

  const fromBlock = BigInt(ctx.deployment.deployedAtBlock)
  const now = (await ctx.publicClient.getBlock()).timestamp
  const authorizationsEnded: Address[] = []
  const authorized = await events(() =>
    ctx.publicClient.getContractEvents({
      address: ctx.deployment.records,
      abi: medicalRecordAbi,
      eventName: 'ProviderAuthorized',
      args: { patient },
      fromBlock,
      toBlock: 'latest',
    }),
  )
  for (const provider of new Set(authorized.map((log) => getAddress(log.args.provider!)))) {
    const until = await ctx.publicClient.readContract({
      address: ctx.deployment.records,
      abi: medicalRecordAbi,
      functionName: 'authorizationOf',
      args: [patient, provider],
    })
    if (BigInt(until) < now) continue
    await revokeProvider(ctx, params.patient, provider)
    authorizationsEnded.push(provider)
  }

  const delegatesRemoved: Address[] = []
  const named = await events(() =>
    ctx.publicClient.getContractEvents({
      address: ctx.deployment.consent,
      abi: consentRegistryAbi,
      eventName: 'DelegateAdded',
      args: { patient },
      fromBlock,
      toBlock: 'latest',
    }),
  )
  for (const delegate of new Set(named.map((log) => getAddress(log.args.delegate!)))) {
    const still = await ctx.publicClient.readContract({
      address: ctx.deployment.consent,
      abi: consentRegistryAbi,
      functionName: 'isDelegate',
      args: [patient, delegate],
    })
    if (!still) continue
    await setDelegate(ctx, { patient: params.patient, delegate, enabled: false })
    delegatesRemoved.push(delegate)
  }

  return { ...erased, grantsRevoked, authorizationsEnded, delegatesRemoved }
}

async function events<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    throw toMedvaultError(error)
  }
}
