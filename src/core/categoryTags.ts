/**
 * Blinded categories (issue 22): the chain never holds a record's category or sensitivity, only a
 * per-patient tag for the pair. A patient's tag secret is derived from their encryption seed, so
 * whatever recovers the seed (a backup, a recovery kit) recovers the tags too; nothing new to keep.
 *
 * tag = first 8 bytes of HMAC-SHA256(secret, "medvault.tag.v1" ‖ 0 ‖ category ‖ 0 ‖ flags)
 *
 * Why 8 bytes: a tag only has to be unique among one patient's classes (at most a few hundred
 * category and flag pairs; a collision among 500 random 64-bit values has odds of about 7e-15),
 * and a stranger's inability to link or guess tags comes from the 256-bit secret behind the
 * HMAC, not from the tag's length: without the secret no guess can be checked at all. A
 * provider cannot use a collision to relabel a record either, since the patient's consent
 * signature covers the exact tag. Eight bytes also leave room beside an address in one storage
 * slot, which the gas work of issue 22 needs.
 *
 * A tag table is the part of that mapping a reader may know: the patient seals it (HPKE, as key
 * slips are) to a provider they authorise or consent to, never on chain. The whole table gives as
 * much as the secret would; a smaller one (only the categories a grant names) gives less.
 *
 * Uses @noble/hashes, not node:crypto, because the web portal derives tags in the browser.
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { type Address, type Hex, bytesToHex, hexToBytes } from 'viem'
import { unwrapKey, wrapKey } from '../crypto/index.js'
import { InvalidInputError } from '../errors.js'
import { CATEGORIES, type Category, categoryCode, categoryName, requiredSensitivity } from './categories.js'

/** Every sensitivity flag bit (MedicalRecord.sol's SENSITIVE_ALL). */
const ALL_FLAGS = 31
const TAG_BYTES = 8
const ENTRY_BYTES = 2 + TAG_BYTES
const TABLE_VERSION = 1
const encoder = new TextEncoder()

/** Sealed tag tables, one per patient and reader (consent/tagTables.ts keeps them as files). */
export interface TagTableStore {
  put(patient: Address, reader: Address, sealed: Uint8Array): Promise<void>
  get(patient: Address, reader: Address): Promise<Uint8Array | undefined>
}

/** A record's blinded class on chain: 8 bytes, as `0x` hex. */
export type CategoryTag = Hex

/** One class a reader may map back: the category, the record's full sensitivity flags, and its tag. */
export type TagEntry = { category: Category; sensitivity: number; tag: CategoryTag }

/** What a reader knows of one patient's tags. */
export type TagTable = readonly TagEntry[]

/** The 32-byte secret a patient's tags are derived from (HKDF-SHA256 of the encryption seed). */
export function deriveTagSecret(encryptionSeed: Uint8Array): Uint8Array {
  if (encryptionSeed.length !== 32) throw new InvalidInputError('An encryption seed is 32 bytes.')
  return hkdf(sha256, encryptionSeed, encoder.encode('medvault/category-tags'), encoder.encode('v1'), 32)
}

/** Whether `sensitivity` is a valid set of flags for a record of `category` (its own flag included). */
export function isValidClass(category: Category, sensitivity: number): boolean {
  const required = requiredSensitivity(category)
  return Number.isInteger(sensitivity) && (sensitivity & ~ALL_FLAGS) === 0 && (sensitivity & required) === required
}

/** The tag of records of `category` with these full sensitivity flags, for the patient whose secret this is. */
export function categoryTag(secret: Uint8Array, category: Category, sensitivity: number): CategoryTag {
  if (!isValidClass(category, sensitivity)) {
    throw new InvalidInputError(`Sensitivity flags ${sensitivity} are not valid for a ${category} record.`, {
      hint: 'A sensitive category always carries its own flag; flags are 0 to 31.',
    })
  }
  const input = new Uint8Array([...encoder.encode('medvault.tag.v1'), 0, ...encoder.encode(category), 0, sensitivity])
  return bytesToHex(hmac(sha256, secret, input).subarray(0, TAG_BYTES))
}

/**
 * The table of every valid class of `categories` (all of them by default): each category with every
 * flag set that includes its own flag. The patient keeps the whole table; a grantee may be given a part.
 */
export function buildTagTable(secret: Uint8Array, categories: readonly Category[] = CATEGORIES): TagTable {
  const entries: TagEntry[] = []
  for (const category of categories) {
    for (let sensitivity = 0; sensitivity <= ALL_FLAGS; sensitivity++) {
      if (isValidClass(category, sensitivity)) entries.push({ category, sensitivity, tag: categoryTag(secret, category, sensitivity) })
    }
  }
  return entries
}

/** The tag of a class in `table`, or undefined if the reader was not given it. */
export function tagOf(table: TagTable, category: Category, sensitivity: number): CategoryTag | undefined {
  return table.find((e) => e.category === category && e.sensitivity === sensitivity)?.tag
}

/** The class a tag stands for, or undefined if it is not in `table`. */
export function classOf(table: TagTable, tag: Hex): { category: Category; sensitivity: number } | undefined {
  const wanted = tag.toLowerCase()
  const entry = table.find((e) => e.tag === wanted)
  return entry ? { category: entry.category, sensitivity: entry.sensitivity } : undefined
}

/**
 * The patient's open tags: the classes with no sensitivity flag at all. Registered on chain (as
 * opaque tags) so that the contracts can keep sensitive records out of "all" grants and break-glass.
 */
export function openTags(table: TagTable): CategoryTag[] {
  return table.filter((e) => e.sensitivity === 0).map((e) => e.tag)
}

/** The classes of `categories` in `table`: what a grant naming those categories covers. */
export function tagsForCategories(table: TagTable, categories: readonly Category[], sensitivity: number): CategoryTag[] {
  return table
    .filter((e) => categories.includes(e.category) && (e.sensitivity & ~(sensitivity | requiredSensitivity(e.category))) === 0)
    .map((e) => e.tag)
}

/** version ‖ (category code, flags, tag)*: 10 bytes a class. */
export function encodeTagTable(table: TagTable): Uint8Array {
  const out = new Uint8Array(1 + table.length * ENTRY_BYTES)
  out[0] = TABLE_VERSION
  table.forEach((e, i) => {
    const at = 1 + i * ENTRY_BYTES
    out[at] = categoryCode(e.category)
    out[at + 1] = e.sensitivity
    out.set(hexToBytes(e.tag), at + 2)
  })
  return out
}

export function decodeTagTable(bytes: Uint8Array): TagTable {
  if (bytes[0] !== TABLE_VERSION || (bytes.length - 1) % ENTRY_BYTES !== 0) {
    throw new InvalidInputError('This tag table is damaged or from a newer medvault.', {
      hint: 'Ask the patient to share their tags again.',
    })
  }
  const entries: TagEntry[] = []
  for (let at = 1; at < bytes.length; at += ENTRY_BYTES) {
    const category = categoryName(bytes[at] as number)
    const sensitivity = bytes[at + 1] as number
    if (!isValidClass(category, sensitivity)) throw new InvalidInputError('This tag table names an invalid class.')
    entries.push({ category, sensitivity, tag: bytesToHex(bytes.subarray(at + 2, at + ENTRY_BYTES)) })
  }
  return entries
}

/** Binds a sealed table to its patient and reader, so a table copied to another pair does not open. */
function tableAad(patient: Address, reader: Address): Uint8Array {
  return encoder.encode(`medvault/tag-table/v1:${patient.toLowerCase()}:${reader.toLowerCase()}`)
}

/** Seals `table` to `reader`'s X25519 key (HPKE), for the reader to map `patient`'s tags back to categories. */
export async function sealTagTable(
  table: TagTable,
  params: { patient: Address; reader: Address; readerPublicKey: Hex },
): Promise<Uint8Array> {
  const { enc, ct } = await wrapKey(hexToBytes(params.readerPublicKey), encodeTagTable(table), tableAad(params.patient, params.reader))
  const out = new Uint8Array(2 + enc.length + ct.length)
  new DataView(out.buffer).setUint16(0, enc.length)
  out.set(enc, 2)
  out.set(ct, 2 + enc.length)
  return out
}

/** Opens a table sealed by {@link sealTagTable} with the reader's encryption seed. */
export async function openTagTable(
  readerSeed: Uint8Array,
  sealed: Uint8Array,
  params: { patient: Address; reader: Address },
): Promise<TagTable> {
  if (sealed.length < 2) throw new InvalidInputError('This sealed tag table is empty.')
  const encLength = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength).getUint16(0)
  const enc = sealed.subarray(2, 2 + encLength)
  const ct = sealed.subarray(2 + encLength)
  return decodeTagTable(await unwrapKey(readerSeed, { enc, ct }, tableAad(params.patient, params.reader)))
}

/**
 * Seals the patient's tags for `categories` (every category by default: a provider that issues
 * records needs the tag of whatever it issues) to `reader`, and stores the sealed table.
 */
export async function shareTagTable(
  store: TagTableStore,
  params: { patient: Address; tagSecret: Uint8Array; reader: Address; readerPublicKey: Hex; categories?: readonly Category[] },
): Promise<TagTable> {
  const table = buildTagTable(params.tagSecret, params.categories)
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
