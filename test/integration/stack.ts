/**
 * A real embedded medvault for integration tests: a temporary home with its own anvil chain (state
 * file in the home), contracts deployed, an on-disk Helia repository, and a few accounts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { privateKeyToAccount } from 'viem/accounts'
import { EMBEDDED_DEV_KEY } from '../../src/chain/embedded.js'
import type { UnlockedAccount } from '../../src/accounts/index.js'
import { registerProvider } from '../../src/directory/index.js'
import { createAccount } from '../../src/home/createAccount.js'
import { type Medvault, openMedvault } from '../../src/home/openMedvault.js'
import { documentFromFhir, issueRecord } from '../../src/records/index.js'

export const PASSPHRASE = 'correct-horse-battery'

export const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)

export type TestStack = {
  home: string
  mv: Medvault
  accounts: Record<string, UnlockedAccount>
  /** Closes and reopens the home, as a restart would. */
  restart(): Promise<Medvault>
  dispose(): Promise<void>
}

/** Opens a fresh home; `providers` are registered under their display names, `others` are plain accounts. */
export async function openTestStack(params: { providers?: Record<string, string>; others?: string[] } = {}): Promise<TestStack> {
  const home = mkdtempSync(join(tmpdir(), 'medvault-int-'))
  let mv = await openMedvault({ home })
  const accounts: Record<string, UnlockedAccount> = {}
  for (const [name, display] of Object.entries(params.providers ?? {})) {
    await createAccount(mv, name, PASSPHRASE)
    accounts[name] = await mv.keystore.unlock(name, PASSPHRASE)
    await registerProvider(mv, registrar, {
      provider: accounts[name].address,
      name: display,
      encryptionKey: accounts[name].encryptionPublicKey,
    })
  }
  for (const name of params.others ?? []) {
    await createAccount(mv, name, PASSPHRASE)
    accounts[name] = await mv.keystore.unlock(name, PASSPHRASE)
  }
  const stack: TestStack = {
    home,
    get mv() {
      return mv
    },
    accounts,
    async restart() {
      await mv.close()
      mv = await openMedvault({ home })
      return mv
    },
    async dispose() {
      await mv.close()
      rmSync(home, { recursive: true, force: true })
    },
  }
  return stack
}

/** Issues `examples/fhir/<file>` from `issuer` to `patient`, with the patient's signed consent. Returns the token id. */
export async function issueExample(stack: TestStack, file: string, issuer: string, patient: string): Promise<bigint> {
  const doc = documentFromFhir(readFileSync(new URL(`../../examples/fhir/${file}`, import.meta.url)))
  const { tokenId } = await issueRecord(stack.mv, {
    issuer: stack.accounts[issuer]!,
    patient: stack.accounts[patient]!,
    content: doc.content,
    contentType: doc.contentType,
    category: doc.category,
    sensitivity: doc.sensitivity,
    consent: { patient: stack.accounts[patient]! },
  })
  return tokenId
}
