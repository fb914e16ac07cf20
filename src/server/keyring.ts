/**
 * The accounts whose keys this server holds (custodial accounts): those in the home's keystore
 * that open with the server's passphrase. For them the server decrypts and signs, which is what
 * lets an EHR speak plain FHIR to it. Any other account still signs in, and gets ciphertext and
 * its own key slips to open on its side.
 */
import { type Address, getAddress } from 'viem'
import type { Keystore, UnlockedAccount } from '../accounts/index.js'

export interface Keyring {
  /** The unlocked account for `address`, or undefined when this server does not hold its keys. */
  get(address: Address): Promise<UnlockedAccount | undefined>
}

export function createKeyring(keystore: Pick<Keystore, 'find' | 'unlock'>, passphrase: string | undefined): Keyring {
  // Unlocking costs an scrypt run (~0.5 s), so each account is opened once, on first use.
  const opened = new Map<Address, Promise<UnlockedAccount | undefined>>()
  return {
    get(address) {
      const key = getAddress(address)
      if (!passphrase) return Promise.resolve(undefined)
      let entry = opened.get(key)
      if (!entry) {
        // An account created after start is found on its first request; a miss is not remembered.
        const account = keystore.find(key)
        if (!account) return Promise.resolve(undefined)
        entry = keystore.unlock(account.name, passphrase).catch(() => undefined)
        opened.set(key, entry)
      }
      return entry
    },
  }
}
