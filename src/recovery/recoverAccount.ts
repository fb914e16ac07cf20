import { combine } from 'shamir-secret-sharing'
import { type Address, bytesToHex, getAddress } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { encryptionKeyPairFromSeed } from '../crypto/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import { AccessDeniedError, InvalidInputError, WrongKeyError } from '../errors.js'
import type { RecordsContext } from '../core/index.js'
import { type MoveAccountParameters, type MoveAccountReturnType, moveAccount } from './moveAccount.js'
import { getRecoveryState } from './recoveryChain.js'
import type { RecoveryStore } from './recoveryStore.js'
import { openRecoverySecret, openShare } from './shareFormat.js'

/**
 * Rebuilds `patient`'s encryption seed and tag secret from the shares guardians released to
 * `newAccount`, and checks the seed against the patient's published key before anything uses it.
 */
export async function rebuildSecrets(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { patient: Address; newAccount: UnlockedAccount; store: RecoveryStore },
): Promise<{ encryptionSeed: Uint8Array; tagSecret: Uint8Array }> {
  const boxes = params.store.released(params.patient, params.newAccount.address)
  const threshold = boxes[0]?.threshold ?? params.store.getSetup(params.patient)?.threshold ?? 2
  if (boxes.length < threshold) {
    throw new AccessDeniedError(
      `${boxes.length} of the ${threshold} guardian shares needed have been released to ${params.newAccount.name}.`,
      {
        hint: `Ask more guardians to run \`medvault recovery share --as GUARDIAN --for ${params.patient} --to ${params.newAccount.address}\`.`,
      },
    )
  }
  const shares = await Promise.all(boxes.map((box) => openShare(box, params.newAccount)))
  const combined = await combine(shares)
  for (const share of shares) share.fill(0)
  let secrets: { encryptionSeed: Uint8Array; tagSecret: Uint8Array }
  try {
    secrets = openRecoverySecret(combined)
  } catch {
    throw new WrongKeyError(`The released shares do not rebuild the key of ${params.patient}.`, {
      hint: 'A share is from an older setup or was damaged; ask another guardian to release theirs.',
    })
  } finally {
    combined.fill(0)
  }
  const published = (await encryptionKeyOf(ctx, params.patient)) ?? boxes[0]!.patientKey
  const rebuilt = bytesToHex((await encryptionKeyPairFromSeed(secrets.encryptionSeed)).publicKey)
  if (rebuilt.toLowerCase() !== published.toLowerCase()) {
    secrets.encryptionSeed.fill(0)
    secrets.tagSecret.fill(0)
    throw new WrongKeyError(`The released shares do not rebuild the key of ${params.patient}.`, {
      hint: 'A share is from an older setup or was damaged; ask another guardian to release theirs.',
    })
  }
  return secrets
}

/**
 * Completes a social recovery as the new account, once the guardians approved it on chain and the
 * delay passed: rebuilds the old seed and tag secret from k released shares, wraps every record key to the new
 * account, moves the tokens, takes over the grants and re-issues the grantees' key slips.
 */
export async function recoverAccount(
  ctx: RecordsContext,
  params: {
    patient: Address
    newAccount: UnlockedAccount
    store: RecoveryStore
    /** Keeps the recovered account's tag secret in the new account's keystore (see {@link MoveAccountParameters}). */
    adoptTagSecret: MoveAccountParameters['adoptTagSecret']
    checkpoint?: MoveAccountParameters['checkpoint']
  },
): Promise<MoveAccountReturnType> {
  const patient = getAddress(params.patient)
  const state = await getRecoveryState(ctx, patient)
  const done = state.successor === params.newAccount.address
  if (!done) {
    if (!state.pending || state.pending.rotation || state.pending.newAccount !== params.newAccount.address) {
      throw new AccessDeniedError(`No recovery of ${patient} to ${params.newAccount.name} is pending.`, {
        hint: `It needs ${state.threshold || 'the threshold of'} guardian approvals first; see \`medvault recovery status --for ${patient}\`.`,
      })
    }
    const now = Number((await ctx.publicClient.getBlock()).timestamp) * 1000
    if (now < state.pending.readyAt.getTime()) {
      throw new AccessDeniedError(`The recovery delay has not passed: it can be executed from ${state.pending.readyAt.toISOString()}.`, {
        hint: 'The delay gives the owner time to cancel a recovery they did not ask for. Run `medvault recovery execute` again then.',
      })
    }
  } else if (state.successor !== params.newAccount.address) {
    throw new InvalidInputError(`${patient} was moved to another account.`)
  }
  const secrets = await rebuildSecrets(ctx, params)
  try {
    return await moveAccount(ctx, {
      mode: 'recovery',
      from: { address: patient, ...secrets },
      to: params.newAccount,
      sender: params.newAccount.chainAccount,
      adoptTagSecret: params.adoptTagSecret,
      ...(params.checkpoint ? { checkpoint: params.checkpoint } : {}),
    })
  } finally {
    secrets.encryptionSeed.fill(0)
    secrets.tagSecret.fill(0)
  }
}

/** Key rotation: the patient, with the current key, moves everything to `newAccount` now. */
export function rotateAccount(
  ctx: RecordsContext,
  params: {
    patient: UnlockedAccount
    newAccount: UnlockedAccount
    /** Keeps the patient's tag secret in the new account's keystore (see {@link MoveAccountParameters}). */
    adoptTagSecret: MoveAccountParameters['adoptTagSecret']
    dropGrants?: bigint[]
    checkpoint?: MoveAccountParameters['checkpoint']
  },
) {
  return moveAccount(ctx, {
    mode: 'rotation',
    from: params.patient,
    to: params.newAccount,
    sender: params.patient.chainAccount,
    adoptTagSecret: params.adoptTagSecret,
    ...(params.dropGrants ? { dropGrants: params.dropGrants } : {}),
    ...(params.checkpoint ? { checkpoint: params.checkpoint } : {}),
  })
}
