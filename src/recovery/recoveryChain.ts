/**
 * The recovery calls to MedicalRecord and ConsentRegistry, with their custom errors turned into
 * messages a person can act on.
 */
import { type Account, type Address, BaseError, ContractFunctionRevertedError, type Hex, getAddress } from 'viem'
import { toMedvaultError } from '../chain/errors.js'
import { consentRegistryAbi, medicalRecordAbi } from '../contracts/index.js'
import { AccessDeniedError, ChainError, InvalidInputError, type MedvaultError, NotFoundError } from '../errors.js'
import type { RecordsContext } from '../records/context.js'

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>
type ReadCtx = Pick<RecordsContext, 'publicClient' | 'deployment'>

const when = (seconds: unknown) => new Date(Number(seconds) * 1000).toISOString()

const MESSAGES: Record<string, (args: readonly unknown[]) => MedvaultError> = {
  MedicalRecordInvalidGuardians: () =>
    new InvalidInputError('The chain refused the guardians.', {
      hint: `Name 2 to 10 distinct guardians other than the patient, and a threshold between 2 and their number.`,
    }),
  MedicalRecordInvalidDelay: ([delay]) =>
    new InvalidInputError(`A recovery delay of ${String(delay)} s is out of bounds.`, { hint: 'Use between 1 day and 30 days.' }),
  MedicalRecordNotGuardian: ([patient, account]) =>
    new AccessDeniedError(`${String(account)} is not a guardian of ${String(patient)}.`, {
      hint: 'Only the guardians the patient named with `medvault recovery setup` can approve a recovery.',
    }),
  MedicalRecordAlreadyApproved: ([, guardian, newAccount]) =>
    new InvalidInputError(`${String(guardian)} already approved the recovery to ${String(newAccount)}.`),
  MedicalRecordInvalidApproval: ([, guardian]) =>
    new AccessDeniedError(`The approval signature is not ${String(guardian)}'s for this recovery round.`, {
      hint: 'The recovery was cancelled or the guardians changed since it was signed; sign again.',
    }),
  MedicalRecordInvalidSuccessor: ([account]) =>
    new InvalidInputError(`${String(account)} cannot receive the records (it is the patient, zero, or a retired account).`),
  MedicalRecordRecoveryPending: ([, newAccount, readyAt]) =>
    new InvalidInputError(`A recovery to ${String(newAccount)} is already pending (executable from ${when(readyAt)}).`),
  MedicalRecordNoRecovery: ([patient]) =>
    new NotFoundError(`No recovery of ${String(patient)} is pending.`, {
      hint: 'It needs the threshold of guardian approvals first (`medvault recovery status`); it may have been cancelled or completed.',
    }),
  // MedicalRecordAccountRetired and ConsentAccountRetired: chain/errors.ts (any command may meet them).
  MedicalRecordRecoveryNotReady: ([, readyAt]) =>
    new AccessDeniedError(`The recovery delay has not passed: it can be executed from ${when(readyAt)}.`, {
      hint: 'The delay gives the owner time to cancel a recovery they did not ask for. Run `medvault recovery execute` again then.',
    }),
  MedicalRecordRecoveryInProgress: ([, newAccount]) =>
    new InvalidInputError(`The records are already moving to ${String(newAccount)}; the move can only be completed.`, {
      hint: 'Run the same `medvault recovery execute` or `medvault account rotate` again to finish it.',
    }),
}

export function toRecoveryError(error: unknown): MedvaultError {
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError)
    const name = reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined
    const make = name ? MESSAGES[name] : undefined
    if (make && reverted instanceof ContractFunctionRevertedError) return Object.assign(make(reverted.data?.args ?? []), { cause: error })
  }
  return toMedvaultError(error)
}

async function send(ctx: Ctx, write: () => Promise<Hex>) {
  try {
    const hash = await write()
    const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new ChainError('The transaction reverted.')
    return receipt
  } catch (error) {
    throw toRecoveryError(error)
  }
}

const records = (ctx: ReadCtx) => ({ address: ctx.deployment.records, abi: medicalRecordAbi }) as const

export async function setGuardians(ctx: Ctx, patient: Account, params: { guardians: Address[]; threshold: number; delaySeconds: number }) {
  const receipt = await send(ctx, () =>
    ctx.walletFor(patient).writeContract({
      ...records(ctx),
      functionName: 'setGuardians',
      args: [params.guardians.map((g) => getAddress(g)), params.threshold, params.delaySeconds],
    }),
  )
  return receipt.transactionHash
}

export async function approveRecovery(ctx: Ctx, guardian: Account, params: { patient: Address; newAccount: Address }) {
  const receipt = await send(ctx, () =>
    ctx.walletFor(guardian).writeContract({
      ...records(ctx),
      functionName: 'approveRecovery',
      args: [getAddress(params.patient), getAddress(params.newAccount)],
    }),
  )
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
  const receipt = await send(ctx, () =>
    ctx.walletFor(params.submitter).writeContract({
      ...records(ctx),
      functionName: 'approveRecoveryBySig',
      args: [getAddress(params.patient), params.guardian.address, getAddress(params.newAccount), validUntil, signature],
    }),
  )
  return receipt.transactionHash
}

export async function cancelRecovery(ctx: Ctx, patient: Account) {
  const receipt = await send(ctx, () => ctx.walletFor(patient).writeContract({ ...records(ctx), functionName: 'cancelRecovery' }))
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
    const receipt = await send(ctx, () =>
      params.mode === 'recovery'
        ? ctx
            .walletFor(params.sender)
            .writeContract({ ...records(ctx), functionName: 'executeRecovery', args: [getAddress(params.from), page] })
        : ctx.walletFor(params.sender).writeContract({ ...records(ctx), functionName: 'rotate', args: [getAddress(params.to), page] }),
    )
    hashes.push(receipt.transactionHash)
    params.onPage?.()
  }
  return hashes
}

export async function moveGrants(ctx: Ctx, successor: Account, params: { from: Address; grantIds: bigint[] }) {
  if (params.grantIds.length === 0) return undefined
  const receipt = await send(ctx, () =>
    ctx.walletFor(successor).writeContract({
      address: ctx.deployment.consent,
      abi: consentRegistryAbi,
      functionName: 'moveGrants',
      args: [getAddress(params.from), params.grantIds],
    }),
  )
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
    throw toRecoveryError(error)
  }
}

export function approvalsFor(ctx: ReadCtx, patient: Address, newAccount: Address): Promise<number> {
  return ctx.publicClient.readContract({
    ...records(ctx),
    functionName: 'approvalsFor',
    args: [getAddress(patient), getAddress(newAccount)],
  })
}
