/**
 * Guardians named from the browser: the patient's encryption seed split k-of-n
 * (shamir-secret-sharing), one printed recovery sheet per person, and the sheets' approval
 * addresses named on chain, exactly as `medvault recovery setup --guardians paper,paper,…` does
 * (src/recovery/setupRecovery.ts). A sheet holds a share and a fresh signing key with which its
 * holder approves a recovery without funds; a new vault types the sheets in with
 * `medvault recovery share --as NEW --paper …`. The sheets are shown once and never stored.
 */
import { split } from 'shamir-secret-sharing'
import type { Address } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { encodePaperSheet } from '../../../src/recovery/paperSheet.js'
import type { Chainside } from './chain.js'
import type { BrowserAccount } from './keystore.js'

/** The CLI's default: the patient has this long to stop a recovery she did not ask for. */
export const RECOVERY_DELAY_SECONDS = 3 * 86_400

export type RecoverySheet = { person: string; sheet: string }

export async function makeRecoverySheets(
  account: BrowserAccount,
  chain: Pick<Chainside, 'setGuardians'>,
  people: string[],
  threshold: number,
): Promise<RecoverySheet[]> {
  if (people.length < 2 || threshold < 2 || threshold > people.length) {
    throw new Error('Name at least two people, and choose how many of them must agree (at least two).')
  }
  const shares = await split(account.encryptionSeed, people.length, threshold)
  const sheets: RecoverySheet[] = []
  const approvers: Address[] = []
  for (const [i, person] of people.entries()) {
    const guardianKey = generatePrivateKey()
    approvers.push(privateKeyToAccount(guardianKey).address)
    const share = shares[i]!
    sheets.push({
      person,
      sheet: await encodePaperSheet({
        patient: account.address,
        threshold,
        patientKey: account.encryptionPublicKey,
        guardianKey,
        share,
      }),
    })
    share.fill(0)
  }
  await chain.setGuardians(approvers, threshold, RECOVERY_DELAY_SECONDS)
  return sheets
}
