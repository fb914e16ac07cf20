import { type Hex, createTestClient, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { PublicAccount } from '../accounts/index.js'
import { EMBEDDED_FUNDING } from '../chain/index.js'
import { encryptionKeyOf, publishEncryptionKey, publishOpenTags } from '../directory/index.js'
import type { Medvault } from './openMedvault.js'

export type CreateAccountReturnType = PublicAccount & {
  funded: boolean
  /** Its encryption key and its open tags (ConsentRegistry.setOpenTags) are on chain. */
  published: boolean
  /**
   * An imported key whose address already published another encryption key (it is a medvault
   * account elsewhere): that key is left in place, so records sealed to it stay readable there.
   */
  otherKeyPublished: boolean
}

/**
 * Creates a named account in the home's keystore. On the embedded chain it is also funded and its
 * encryption key and open tags published (two transactions), so it can be used at once; on another
 * chain they are published when the account already holds funds for gas. A crash between the two
 * leaves what `medvault account publish` completes.
 *
 * With `privateKey` (`account import`) the account takes that chain key; its encryption key is
 * fresh, as for a new account: a V3 keystore carries no encryption key, and deriving one from the
 * chain key would not give back the key an exported medvault account had (those are random).
 */
export async function createAccount(
  mv: Medvault,
  name: string,
  passphrase: string,
  options: { privateKey?: Hex } = {},
): Promise<CreateAccountReturnType> {
  let otherKeyPublished = false
  // An imported key may already be a medvault account elsewhere: its published key stays.
  if (options.privateKey) otherKeyPublished = (await encryptionKeyOf(mv, privateKeyToAccount(options.privateKey).address)) !== undefined
  const account = await mv.keystore.create(name, passphrase, options)
  let funded = false
  if (mv.embedded) {
    const test = createTestClient({ mode: 'anvil', chain: mv.chain, transport: http(mv.rpcUrl) })
    await test.setBalance({ address: account.address, value: EMBEDDED_FUNDING })
    funded = true
  } else {
    funded = (await mv.publicClient.getBalance({ address: account.address })) > 0n
  }
  let published = false
  if (funded && !otherKeyPublished) {
    const unlocked = await mv.keystore.unlock(name, passphrase)
    await publishEncryptionKey(mv, unlocked.chainAccount, account.encryptionPublicKey)
    await publishOpenTags(mv, unlocked)
    published = true
  }
  return { ...account, funded, published, otherKeyPublished }
}
