/**
 * The recovery calls to MedicalRecord and ConsentRegistry, with their custom errors turned into
 * messages a person can act on.
 */
import { type Account, type Address, type Hex, getAddress } from 'viem'
import { writeAndWait, toMedvaultError } from '../chain/index.js'
import { type ChainGrant, grantStruct } from '../consent/index.js'
import { consentRegistryAbi, medicalRecordAbi } from '../contracts/index.js'
import type { RecordsContext } from '../core/index.js'

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>
type ReadCtx = Pick<RecordsContext, 'publicClient' | 'deployment'>

const records = (ctx: ReadCtx) => ({ address: ctx.deployment.records, abi: medicalRecordAbi }) as const

export async function setGuardians(ctx: Ctx, patient: Account, params: { guardians: Address[]; threshold: number; delaySeconds: number }) {
  const receipt = await writeAndWait(ctx, patient, {
    ...records(ctx),
    functionName: 'setGuardians',
    args: [params.guardians.map((g) => getAddress(g)), params.threshold, params.delaySeconds],
  })
  return receipt.transactionHash
}

export async function approveRecovery(ctx: Ctx, guardian: Account, params: { patient: Address; newAccount: Address }) {
  const receipt = await writeAndWait(ctx, guardian, {
    ...records(ctx),
    functionName: 'approveRecovery',
    args: [getAddress(params.patient), getAddress(params.newAccount)],
  })
  return receipt.transactionHash
}

/** A guardian key signs its approval (EIP-712 `RecoveryApproval`); `submitter` sends it and pays the gas. */
export async function approveRecoveryBySig(
  ctx: Ctx,
  params: {
    guardian: Account & { signTypedData: NonNullable<Account['signTypedData']> }
    submitter: Account
    patient: Address
    newAccount: Address
  },
) {
  const [, , , round] = await ctx.publicClient.readContract({
    ...records(ctx),
    functionName: 'guardiansOf',
    args: [getAddress(params.patient)],
  })
  // An hour of chain time: the signature is submitted at once.
  const validUntil = (await ctx.publicClient.getBlock()).timestamp + 3600n
  const signature = await params.guardian.signTypedData({
    domain: { name: 'medvault', version: '1', chainId: ctx.publicClient.chain.id, verifyingContract: ctx.deployment.records },
    types: {
      RecoveryApproval: [
        { name: 'patient', type: 'address' },
        { name: 'newAccount', type: 'address' },
        { name: 'round', type: 'uint32' },
        { name: 'deadline', type: 'uint256' },
      ],
    },
    primaryType: 'RecoveryApproval',
    message: { patient: getAddress(params.patient), newAccount: getAddress(params.newAccount), round, deadline: validUntil },
  })
  const receipt = await writeAndWait(ctx, params.submitter, {
    ...records(ctx),
    functionName: 'approveRecoveryBySig',
    args: [getAddress(params.patient), params.guardian.address, getAddress(params.newAccount), validUntil, signature],
  })
  return receipt.transactionHash
}

export async function cancelRecovery(ctx: Ctx, patient: Account) {
  const receipt = await writeAndWait(ctx, patient, { ...records(ctx), functionName: 'cancelRecovery' })
  return receipt.transactionHash
}

/** MedicalRecord.MAX_MOVE_BATCH: tokens per executeRecovery or rotate call. */
export const MOVE_BATCH = 500

/**
 * Moves every token `from` holds, a page at a time: `executeRecovery` for a guardian recovery (sent
 * by `sender`, usually the new account), `rotate` for a rotation (sent by the old key). Finishes a
 * move a crash interrupted. Returns the transaction hashes.
 */
export async function moveTokens(
  ctx: Ctx,
  params: {
    mode: 'recovery' | 'rotation'
    from: Address
    to: Address
    sender: Account
    tokenIds: bigint[]
    /** Called after each page's transaction is confirmed. */
    onPage?: () => void
  },
): Promise<Hex[]> {
  const hashes: Hex[] = []
  const pages: bigint[][] = []
  for (let i = 0; i < params.tokenIds.length; i += MOVE_BATCH) pages.push(params.tokenIds.slice(i, i + MOVE_BATCH))
  if (pages.length === 0) pages.push([])
  for (const page of pages) {
    const receipt =
      params.mode === 'recovery'
        ? await writeAndWait(ctx, params.sender, {
            ...records(ctx),
            functionName: 'executeRecovery',
            args: [getAddress(params.from), page],
          })
        : await writeAndWait(ctx, params.sender, { ...records(ctx), functionName: 'rotate', args: [getAddress(params.to), page] })
    hashes.push(receipt.transactionHash)
    params.onPage?.()
  }
  return hashes
}

/** Takes over `grants` of `from` (their terms as the events give them: the contract checks them against its hashes). */
export async function moveGrants(ctx: Ctx, successor: Account, params: { from: Address; grants: readonly ChainGrant[] }) {
  if (params.grants.length === 0) return undefined
  const receipt = await writeAndWait(ctx, successor, {
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: 'moveGrants',
    args: [getAddress(params.from), params.grants.map((g) => g.grantId), params.grants.map(grantStruct)],
  })
  return receipt.transactionHash
}

export type RecoveryState = {
  guardians: Address[]
  threshold: number
  delaySeconds: number
  round: number
  pending: { newAccount: Address; readyAt: Date; rotation: boolean; moving: boolean } | undefined
  successor: Address | undefined
}

const ZERO = /^0x0{40}$/

export async function getRecoveryState(ctx: ReadCtx, patient: Address): Promise<RecoveryState> {
  try {
    const p = getAddress(patient)
    const [[guardians, threshold, delay, round], pending, successor] = await Promise.all([
      ctx.publicClient.readContract({ ...records(ctx), functionName: 'guardiansOf', args: [p] }),
      ctx.publicClient.readContract({ ...records(ctx), functionName: 'recoveryOf', args: [p] }),
      ctx.publicClient.readContract({ ...records(ctx), functionName: 'successorOf', args: [p] }),
    ])
    return {
      guardians: [...guardians],
      threshold,
      delaySeconds: delay,
      round,
      pending: ZERO.test(pending.newAccount)
        ? undefined
        : { newAccount: pending.newAccount, readyAt: new Date(pending.readyAt * 1000), rotation: pending.rotation, moving: pending.moving },
      successor: ZERO.test(successor) ? undefined : successor,
    }
  } catch (error) {
    throw toMedvaultError(error)
  }
}

export function approvalsFor(ctx: ReadCtx, patient: Address, newAccount: Address): Promise<number> {
  return ctx.publicClient.readContract({
    ...records(ctx),
    functionName: 'approvalsFor',
    args: [getAddress(patient), getAddress(newAccount)],
  })
}
