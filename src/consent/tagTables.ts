/**
 * How a reader learns a patient's category tags (issue 22): the patient seals a tag table to the
 * reader's X25519 key when they consent to a provider's record, authorise a provider, or grant
 * access, and the sealed table is kept next to the key slips, off chain. Only that reader can open
 * it (HPKE, bound to the patient and reader addresses), so the home that keeps it learns nothing.
 * A newer table for the same pair replaces the older one: a grant that names more categories
 * shares more.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, type Hex, getAddress } from 'viem'
import { type Category, type TagTable, buildTagTable, deriveTagSecret, openTagTable, sealTagTable } from '../core/index.js'

/** Sealed tag tables, one per patient and reader. */
export interface TagTableStore {
  put(patient: Address, reader: Address, sealed: Uint8Array): Promise<void>
  get(patient: Address, reader: Address): Promise<Uint8Array | undefined>
}

/** Sealed tables as files under `<dir>/<patient>/<reader>.bin`, written atomically. */
export function createFileTagTableStore(dir: string): TagTableStore {
  const fileOf = (patient: Address, reader: Address) => join(dir, getAddress(patient), `${getAddress(reader)}.bin`)
  return {
    async put(patient, reader, sealed) {
      mkdirSync(join(dir, getAddress(patient)), { recursive: true, mode: 0o700 })
      const file = fileOf(patient, reader)
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, sealed, { mode: 0o600 })
      renameSync(tmp, file)
    },
    async get(patient, reader) {
      const file = fileOf(patient, reader)
      return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined
    },
  }
}

/**
 * Seals the patient's tags for `categories` (every category by default: a provider that issues
 * records needs the tag of whatever it issues) to `reader`, and stores the sealed table.
 */
export async function shareTagTable(
  store: TagTableStore,
  params: { patient: Address; patientSeed: Uint8Array; reader: Address; readerPublicKey: Hex; categories?: readonly Category[] },
): Promise<TagTable> {
  const table = buildTagTable(deriveTagSecret(params.patientSeed), params.categories)
  const sealed = await sealTagTable(table, { patient: params.patient, reader: params.reader, readerPublicKey: params.readerPublicKey })
  await store.put(params.patient, params.reader, sealed)
  return table
}

/** The table `patient` shared with `reader`, opened with the reader's seed; undefined if none was shared. */
export async function sharedTagTable(
  store: TagTableStore,
  params: { patient: Address; reader: Address; readerSeed: Uint8Array },
): Promise<TagTable | undefined> {
  const sealed = await store.get(params.patient, params.reader)
  if (!sealed) return undefined
  return openTagTable(params.readerSeed, sealed, { patient: params.patient, reader: params.reader })
}
