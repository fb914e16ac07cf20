/**
 * How a reader learns a patient's category tags (issue 22): the patient seals a tag table to the
 * reader's X25519 key when they consent to a provider's record, authorise a provider, or grant
 * access, and the sealed table is kept next to the key slips, off chain. Only that reader can open
 * it (HPKE, bound to the patient and reader addresses), so the home that keeps it learns nothing.
 * A newer table for the same pair replaces the older one: a grant that names more categories
 * shares more.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, type Hex, getAddress, isAddress } from 'viem'
import {
  type Category,
  type CategoryTag,
  type RecordsContext,
  type TagTable,
  type TagTableStore,
  buildTagTable,
  categoryName,
  categoryTag,
  openTagTable,
  sealTagTable,
  sharedTagTable,
  tagOf,
} from '../core/index.js'
import { MissingTagsError } from '../errors.js'

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

/** A sealed table as a file store keeps it, for a backup. */
export type SealedTagTable = { patient: Address; reader: Address; sealed: Uint8Array }

/**
 * The sealed tables under `dir` (a {@link createFileTagTableStore} folder) that `account` made as
 * a patient or was given as a reader: what a backup of the account carries.
 */
export function tagTablesInvolving(dir: string, account: Address): SealedTagTable[] {
  if (!existsSync(dir)) return []
  const me = getAddress(account)
  const out: SealedTagTable[] = []
  for (const patient of readdirSync(dir).sort()) {
    if (!isAddress(patient)) continue
    for (const file of readdirSync(join(dir, patient)).sort()) {
      const reader = file.endsWith('.bin') ? file.slice(0, -4) : ''
      if (!isAddress(reader)) continue
      if (getAddress(patient) !== me && getAddress(reader) !== me) continue
      out.push({ patient: getAddress(patient), reader: getAddress(reader), sealed: new Uint8Array(readFileSync(join(dir, patient, file))) })
    }
  }
  return out
}

// Sealing and opening one table live in core (categoryTags.ts), below directory/, which shares a
// patient's table with the provider it authorises.
export { shareTagTable, sharedTagTable } from '../core/index.js'

/** Whose tags a reader may resolve: an account's own (with its tag secret) or another's, from a shared table. */
export type TagReader = { address: Address; encryptionSeed: Uint8Array; tagSecret: Uint8Array }

/**
 * The table `reader` knows of `patient`'s tags: all of them when the reader is the patient, else
 * the table the patient sealed to the reader (undefined when none was shared).
 */
export async function tagTableFor(
  ctx: Pick<RecordsContext, 'tagTables'>,
  params: { patient: Address; reader: TagReader },
): Promise<TagTable | undefined> {
  const { patient, reader } = params
  if (getAddress(patient) === getAddress(reader.address)) return buildTagTable(reader.tagSecret)
  if (!ctx.tagTables) return undefined
  return sharedTagTable(ctx.tagTables, { patient, reader: reader.address, readerSeed: reader.encryptionSeed })
}

/**
 * The tag of a record of `patient` with this category code and full sensitivity, as `reader` (an
 * issuer, or the patient) knows it. Refuses with a clear error when the patient never shared it.
 */
export async function requireTag(
  ctx: Pick<RecordsContext, 'tagTables'>,
  params: { patient: Address; reader: TagReader; category: number; sensitivity: number },
): Promise<CategoryTag> {
  const category = categoryName(params.category)
  if (getAddress(params.patient) === getAddress(params.reader.address)) {
    return categoryTag(params.reader.tagSecret, category, params.sensitivity)
  }
  const table = await tagTableFor(ctx, params)
  const tag = table && tagOf(table, category, params.sensitivity)
  if (!tag) {
    throw new MissingTagsError(`Patient ${params.patient} has not shared the tag of ${category} records with ${params.reader.address}.`, {
      hint: 'Ask the patient to authorise this provider (`medvault provider authorize`) or to consent to this record, which shares their category tags.',
    })
  }
  return tag
}
