import { split } from 'shamir-secret-sharing'
import { type Address, type Hex, getAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { UnlockedAccount } from '../accounts/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import { InvalidInputError, NotFoundError } from '../errors.js'
import type { RecordsContext } from '../core/index.js'
import { setGuardians } from './recoveryChain.js'
import type { RecoveryStore } from './recoveryStore.js'
import { encodePaperSheet, recoverySecret, sealShare } from './shareFormat.js'

export type GuardianSpec = { kind: 'account'; address: Address; name?: string } | { kind: 'paper' }

export type SetupRecoveryParameters = {
  patient: UnlockedAccount
  guardians: GuardianSpec[]
  threshold: number
  /** Seconds the patient has to cancel a recovery after the threshold of approvals (1 to 30 days). */
  delaySeconds: number
  store: RecoveryStore
}

export type SetupRecoveryReturnType = {
  guardians: { address: Address; kind: 'account' | 'paper'; name?: string }[]
  threshold: number
  delaySeconds: number
  /** One printable sheet per paper guardian (a share and its signing key): print it, never store it. */
  paperSheets: { address: Address; sheet: string }[]
  txHash: Hex
}

export const MAX_GUARDIANS = 10
export const MIN_DELAY_SECONDS = 86_400
export const MAX_DELAY_SECONDS = 30 * 86_400

/**
 * Social recovery setup: splits the patient's encryption seed and tag secret k-of-n (shamir-secret-sharing),
 * seals each share to its guardian's published encryption key (or prints it for a paper guardian,
 * with a fresh signing key for its approval), and names the guardians, threshold and delay on chain.
 * Running it again replaces the guardians and voids any approval so far.
 */
export async function setupRecovery(
  ctx: Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>,
  params: SetupRecoveryParameters,
): Promise<SetupRecoveryReturnType> {
  const { patient, threshold, delaySeconds, store } = params
  const n = params.guardians.length
  if (n < 2 || n > MAX_GUARDIANS || !Number.isInteger(threshold) || threshold < 2 || threshold > n) {
    throw new InvalidInputError(`A threshold of ${threshold} of ${n} guardians is not possible.`, {
      hint: `Name 2 to ${MAX_GUARDIANS} guardians and a threshold between 2 and their number (e.g. --guardians a,b,c --threshold 2).`,
    })
  }
  if (!Number.isInteger(delaySeconds) || delaySeconds < MIN_DELAY_SECONDS || delaySeconds > MAX_DELAY_SECONDS) {
    throw new InvalidInputError(`A recovery delay of ${delaySeconds} s is out of bounds.`, {
      hint: 'Use between 1 day and 30 days, e.g. --delay 3d.',
    })
  }
  const seen = new Set<string>()
  const guardians: (SetupRecoveryReturnType['guardians'][number] & { key?: Hex; paperKey?: Hex })[] = []
  for (const g of params.guardians) {
    if (g.kind === 'paper') {
      const paperKey = generatePrivateKey()
      guardians.push({ kind: 'paper', address: privateKeyToAccount(paperKey).address, paperKey })
      continue
    }
    const address = getAddress(g.address)
    if (address === patient.address || seen.has(address)) {
      throw new InvalidInputError(`${g.name ?? address} cannot be a guardian twice, nor of itself.`)
    }
    seen.add(address)
    const key = await encryptionKeyOf(ctx, address)
    if (!key) {
      throw new NotFoundError(`Guardian ${g.name ?? address} has not published an encryption key, so no share can be sealed to it.`, {
        hint: 'The guardian runs `medvault account publish NAME` first.',
      })
    }
    guardians.push({ kind: 'account', address, key, ...(g.name ? { name: g.name } : {}) })
  }

  const secret = recoverySecret(patient)
  const shares = await split(secret, n, threshold)
  secret.fill(0)
  const paperSheets: SetupRecoveryReturnType['paperSheets'] = []
  store.clearGuardianShares(patient.address)
  for (const [i, g] of guardians.entries()) {
    const share = shares[i]!
    if (g.paperKey) {
      const sheet = await encodePaperSheet({
        patient: patient.address,
        threshold,
        patientKey: patient.encryptionPublicKey,
        guardianKey: g.paperKey,
        share,
      })
      paperSheets.push({ address: g.address, sheet })
    } else {
      store.putGuardianShare(
        await sealShare({
          share,
          patient: patient.address,
          guardian: g.address,
          holder: g.address,
          holderKey: g.key!,
          threshold,
          patientKey: patient.encryptionPublicKey,
        }),
      )
    }
    share.fill(0)
  }
  const txHash = await setGuardians(ctx, patient.chainAccount, { guardians: guardians.map((g) => g.address), threshold, delaySeconds })
  const listed = guardians.map(({ address, kind, name }) => ({ address, kind, ...(name ? { name } : {}) }))
  store.putSetup({
    v: 1,
    patient: patient.address,
    name: patient.name,
    patientKey: patient.encryptionPublicKey,
    threshold,
    delaySeconds,
    guardians: listed,
    createdAt: new Date().toISOString(),
  })
  return { guardians: listed, threshold, delaySeconds, paperSheets, txHash }
}
