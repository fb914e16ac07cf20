import { type Address, type Hex, isAddress, getAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { type PublicAccount, type UnlockedAccount, readPassphrase } from '../accounts/index.js'
import { EMBEDDED_DEV_KEY } from '../chain/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import { InvalidInputError, NotFoundError } from '../errors.js'
import { type Medvault, openMedvault, resolveHome } from '../home/index.js'
import { createIndexer, openIndexStore } from '../indexer/index.js'
import type { GlobalOptions } from './output.js'

/** Opens the home for one command and always closes it (stopping a chain this process started). */
export async function withMedvault<T>(options: GlobalOptions, fn: (mv: Medvault) => Promise<T>): Promise<T> {
  const mv = await openMedvault({ home: resolveHome(options.home) })
  try {
    return await fn(mv)
  } finally {
    await mv.close()
  }
}

const unlocked = new Map<string, Promise<UnlockedAccount>>()

/** Opens a named account's keys, asking for its passphrase once per process. */
export function unlock(mv: Medvault, name: string): Promise<UnlockedAccount> {
  const key = `${mv.paths.dir}\0${name}`
  if (!unlocked.has(key)) {
    mv.keystore.get(name) // fail fast on an unknown name, before prompting
    const opening = readPassphrase(`Passphrase for ${name}: `).then((p) => mv.keystore.unlock(name, p))
    unlocked.set(key, opening)
    opening.catch(() => unlocked.delete(key))
  }
  return unlocked.get(key)!
}

/**
 * The registrar's chain account: the named account, or on the embedded chain the development key
 * that deployed the contracts.
 */
export async function registrarAccount(mv: Medvault, as: string | undefined) {
  if (as) return (await unlock(mv, as)).chainAccount
  if (mv.embedded) return privateKeyToAccount(EMBEDDED_DEV_KEY)
  throw new InvalidInputError('Say which account is the registrar.', { hint: 'Add `--as REGISTRAR_ACCOUNT`.' })
}

/** A patient given as a local account name or an address that published its encryption key. */
export async function resolvePatient(mv: Medvault, nameOrAddress: string): Promise<PublicAccount & { local: boolean }> {
  const local = isAddress(nameOrAddress) ? mv.keystore.find(nameOrAddress) : mv.keystore.get(nameOrAddress)
  if (local) return { ...local, local: true }
  if (!isAddress(nameOrAddress)) throw new NotFoundError(`There is no account named "${nameOrAddress}".`)
  const key = await encryptionKeyOf(mv, nameOrAddress)
  if (!key) {
    throw new NotFoundError(`${nameOrAddress} has not published an encryption key, so no record can be sealed for it.`, {
      hint: 'The patient runs `medvault account publish NAME` first.',
    })
  }
  return { name: nameOrAddress, address: getAddress(nameOrAddress), encryptionPublicKey: key as Hex, local: false }
}

/** A provider or account given by name (local) or address. */
export function resolveAddress(mv: Medvault, nameOrAddress: string): Address {
  if (isAddress(nameOrAddress)) return getAddress(nameOrAddress)
  return mv.keystore.get(nameOrAddress).address
}

export function parseTokenId(value: string): bigint {
  if (!/^\d+$/.test(value) || value === '0') {
    throw new InvalidInputError(`"${value}" is not a record token id.`, { hint: 'Token ids are positive numbers, e.g. 3.' })
  }
  return BigInt(value)
}

/** Brings the home's index up to the chain head (it is a cache of the chain: safe to repeat, safe to skip). */
export async function syncHomeIndex(mv: Medvault): Promise<void> {
  const store = await openIndexStore(mv.paths, mv.config)
  try {
    await createIndexer(mv, store).sync()
  } finally {
    await store.close()
  }
}
