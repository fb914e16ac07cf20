import { type Account, type Address, type Hex, getAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { UnlockedAccount } from '../accounts/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import { NotFoundError } from '../errors.js'
import type { RecordsContext } from '../core/index.js'
import { approveRecovery, approveRecoveryBySig } from './recoveryChain.js'
import type { RecoveryStore } from './recoveryStore.js'
import { decodePaperSheet, openShare, sealShare } from './shareFormat.js'

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>

export type ReleaseShareReturnType = { patient: Address; guardian: Address; newAccount: Address; approvalTxHash: Hex | undefined }

async function newAccountKey(ctx: Ctx, newAccount: Address): Promise<Hex> {
  const key = await encryptionKeyOf(ctx, newAccount)
  if (!key) {
    throw new NotFoundError(`${newAccount} has not published an encryption key, so no share can be released to it.`, {
      hint: 'The new account runs `medvault account publish NAME` first (`medvault account create` does it on the local chain).',
    })
  }
  return key
}

async function alreadyApproved(ctx: Ctx, patient: Address, guardian: Address, newAccount: Address) {
  const approved = await ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'approvalOf',
    args: [patient, guardian],
  })
  return getAddress(approved) === getAddress(newAccount)
}

/**
 * A guardian's part of a recovery: opens the share it holds for `patient`, seals it to
 * `newAccount` (never in the clear outside this process) and approves the recovery on chain.
 * Repeating it rewrites the same release and does not approve twice.
 */
export async function releaseShare(
  ctx: Ctx,
  params: { guardian: UnlockedAccount; patient: Address; newAccount: Address; store: RecoveryStore },
): Promise<ReleaseShareReturnType> {
  const patient = getAddress(params.patient)
  const newAccount = getAddress(params.newAccount)
  const box = params.store.getGuardianShare(patient, params.guardian.address)
  if (!box) {
    throw new NotFoundError(`${params.guardian.name} holds no recovery share of ${patient} in this home.`, {
      hint: 'Only the guardians named at `medvault recovery setup` hold shares.',
    })
  }
  const holderKey = await newAccountKey(ctx, newAccount)
  const share = await openShare(box, params.guardian)
  try {
    params.store.putReleased(
      newAccount,
      await sealShare({
        share,
        patient,
        guardian: params.guardian.address,
        holder: newAccount,
        holderKey,
        threshold: box.threshold,
        patientKey: box.patientKey as Hex,
      }),
    )
  } finally {
    share.fill(0)
  }
  const approvalTxHash = (await alreadyApproved(ctx, patient, params.guardian.address, newAccount))
    ? undefined
    : await approveRecovery(ctx, params.guardian.chainAccount, { patient, newAccount })
  return { patient, guardian: params.guardian.address, newAccount, approvalTxHash }
}

/**
 * A paper guardian's part, typed in from its sheet: seals the share to `newAccount` and submits the
 * sheet key's signed approval, paid for by `submitter` (usually the new account).
 */
export async function releasePaperShare(
  ctx: Ctx,
  params: { sheet: string; newAccount: Address; submitter: Account; store: RecoveryStore },
): Promise<ReleaseShareReturnType> {
  const sheet = await decodePaperSheet(params.sheet)
  const guardian = privateKeyToAccount(sheet.guardianKey)
  const newAccount = getAddress(params.newAccount)
  const holderKey = await newAccountKey(ctx, newAccount)
  try {
    params.store.putReleased(
      newAccount,
      await sealShare({
        share: sheet.share,
        patient: sheet.patient,
        guardian: guardian.address,
        holder: newAccount,
        holderKey,
        threshold: sheet.threshold,
        patientKey: sheet.patientKey,
      }),
    )
  } finally {
    sheet.share.fill(0)
  }
  const approvalTxHash = (await alreadyApproved(ctx, sheet.patient, guardian.address, newAccount))
    ? undefined
    : await approveRecoveryBySig(ctx, { guardian, submitter: params.submitter, patient: sheet.patient, newAccount })
  return { patient: sheet.patient, guardian: guardian.address, newAccount, approvalTxHash }
}
