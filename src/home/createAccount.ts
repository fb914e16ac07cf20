import { createTestClient, http } from 'viem'
import type { PublicAccount } from '../accounts/index.js'
import { EMBEDDED_FUNDING } from '../chain/index.js'
import { publishEncryptionKey } from '../directory/index.js'
import type { Medvault } from './openMedvault.js'

export type CreateAccountReturnType = PublicAccount & { funded: boolean; published: boolean }

/**
 * Creates a named account in the home's keystore. On the embedded chain it is also funded and its
 * encryption key published, so it can be used at once; on another chain the key is published when
 * the account already holds funds for gas.
 */
export async function createAccount(mv: Medvault, name: string, passphrase: string): Promise<CreateAccountReturnType> {
  const account = await mv.keystore.create(name, passphrase)
  let funded = false
  if (mv.embedded) {
    const test = createTestClient({ mode: 'anvil', chain: mv.chain, transport: http(mv.rpcUrl) })
    await test.setBalance({ address: account.address, value: EMBEDDED_FUNDING })
    funded = true
  } else {
    funded = (await mv.publicClient.getBalance({ address: account.address })) > 0n
  }
  let published = false
  if (funded) {
    const unlocked = await mv.keystore.unlock(name, passphrase)
    await publishEncryptionKey(mv, unlocked.chainAccount, account.encryptionPublicKey)
    published = true
  }
  return { ...account, funded, published }
}
