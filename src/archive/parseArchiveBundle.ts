import { createHash } from 'node:crypto'
import { type Address, type Hex, getAddress, isAddress } from 'viem'
import { InvalidInputError, MalformedBundleError } from '../errors.js'
import { IMPORT_BUNDLE_TYPES, type ImportBundleType, type SkippedEntry, bundleEntriesError, safeResourceType } from '../import/index.js'
import { type Category, documentFromFhir } from '../records/index.js'

/**
 * How a Patient resource names its medvault account: an identifier in the RFC 3986 URI system whose
 * value is the account as a CAIP-10 id, `eip155:<chain id>:<address>` (as `medvault export` writes it).
 */
export const ACCOUNT_IDENTIFIER_SYSTEM = 'urn:ietf:rfc:3986'

/** Invalid entries named one by one in the error message; the rest are counted. */
const MAX_LISTED = 5

/** One resource of an archive: it becomes one archived record of `patient`. */
export type ArchiveEntry = {
  /** Position in `Bundle.entry` (0-based), or in the list given to {@link archiveEntriesFromResources}. */
  index: number
  patient: Address
  /** The resource in canonical form (RFC 8785), as `record add` stores it. */
  content: Uint8Array
  category: Category
  sensitivity: number
}

export type ParsedArchiveBundle = {
  type: ImportBundleType
  /** sha256 of the file's bytes. */
  bundleDigest: Hex
  /** The patients' accounts, in the order their Patient resources appear. */
  patients: Address[]
  entries: ArchiveEntry[]
  /** The Patient resources (demographics are not stored as records) and a searchset's outcomes. */
  skipped: SkippedEntry[]
}

type JsonObject = Record<string, unknown>
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Parses a FHIR R4 Bundle holding a provider's archive for several patients (collection,
 * transaction, batch or searchset). Each Patient resource names its patient's medvault account
 * with a CAIP-10 identifier (see {@link ACCOUNT_IDENTIFIER_SYSTEM}) on this chain; every other
 * resource names one of those Patients in its `subject` or `patient` (by the entry's fullUrl or
 * `Patient/<id>`), is validated and categorised exactly as `record add` does it, and becomes one
 * archived record of that patient.
 *
 * Refused with MalformedBundleError (naming entry positions and paths, never values): not a
 * Bundle of those types, no entries, a Patient without an account for this chain, a resource that
 * names no Patient of the Bundle, or an invalid resource. Nothing is stored.
 *
 * @param bytes - The Bundle file's bytes (UTF-8 JSON).
 * @param options.chainId - The chain the accounts must be on.
 * @example
 * const archive = parseArchiveBundle(readFileSync('archive.json'), { chainId: mv.deployment.chainId })
 * console.log(archive.entries.length, 'records for', archive.patients.length, 'patients')
 */
export function parseArchiveBundle(bytes: Uint8Array, options: { chainId: number }): ParsedArchiveBundle {
  const bundleDigest: Hex = `0x${createHash('sha256').update(bytes).digest('hex')}`
  let bundle: unknown
  try {
    bundle = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new MalformedBundleError('The archive is not valid UTF-8 JSON.')
  }
  if (!isObject(bundle) || bundle.resourceType !== 'Bundle') throw new MalformedBundleError('The file is not a FHIR Bundle.')
  const type = bundle.type
  if (!(IMPORT_BUNDLE_TYPES as readonly unknown[]).includes(type)) {
    throw new MalformedBundleError('An archive must be a collection, transaction, batch or searchset Bundle.')
  }
  const raw = bundle.entry
  if (!Array.isArray(raw) || raw.length === 0) throw new MalformedBundleError('The Bundle has no entries: there is nothing to archive.')

  const problems: string[] = []
  const skipped: SkippedEntry[] = []
  // Every way an entry may refer to a Patient of the Bundle, to that patient's account.
  const refs = new Map<string, Address>()
  const patients: Address[] = []
  for (const [index, entry] of raw.entries()) {
    const resource = isObject(entry) ? entry.resource : undefined
    if (!isObject(resource) || resource.resourceType !== 'Patient') continue
    skipped.push({ index, resourceType: 'Patient', reason: 'patient' })
    const account = accountOf(resource, options.chainId)
    if (!account) {
      problems.push(
        `entry[${index}] (Patient): no identifier with system "${ACCOUNT_IDENTIFIER_SYSTEM}" and value "eip155:${options.chainId}:<address>" names its medvault account`,
      )
      continue
    }
    if (!patients.includes(account)) patients.push(account)
    if (typeof resource.id === 'string') refs.set(`Patient/${resource.id}`, account)
    if (isObject(entry) && typeof entry.fullUrl === 'string') refs.set(entry.fullUrl, account)
  }

  const entries: ArchiveEntry[] = []
  for (const [index, entry] of raw.entries()) {
    const resource = isObject(entry) ? entry.resource : undefined
    if (!isObject(resource)) {
      problems.push(`entry[${index}]: no resource`)
      continue
    }
    if (resource.resourceType === 'Patient') continue
    if (type === 'searchset' && resource.resourceType === 'OperationOutcome' && isObject(entry.search) && entry.search.mode === 'outcome') {
      skipped.push({ index, resourceType: 'OperationOutcome', reason: 'search-outcome' })
      continue
    }
    const patient = subjectOf(resource, refs)
    if (!patient) {
      problems.push(
        `entry[${index}] (${safeResourceType(resource.resourceType)}): its subject or patient names none of the Bundle's Patients`,
      )
      continue
    }
    try {
      entries.push(toEntry(index, patient, resource))
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error
      problems.push(`entry[${index}]: ${error.shortMessage.replace(/\.$/, '')}`)
    }
  }

  if (problems.length > 0) {
    throw bundleEntriesError(problems, raw.length, {
      verb: 'archived',
      hint: 'Nothing was stored or anchored. Fix the Bundle and run it again.',
    })
  }
  if (entries.length === 0) throw new MalformedBundleError('The Bundle holds no resources to archive besides its Patients.')
  return { type: type as ImportBundleType, bundleDigest, patients, entries, skipped }
}

/**
 * The archive entries of a list of FHIR resources, each with its patient's account: the same
 * validation and categorisation as {@link parseArchiveBundle}, for callers that hold resources
 * rather than a Bundle. Throws MalformedBundleError naming the positions of invalid resources.
 */
export function archiveEntriesFromResources(items: readonly { patient: Address; resource: unknown }[]): ArchiveEntry[] {
  const problems: string[] = []
  const entries: ArchiveEntry[] = []
  for (const [index, { patient, resource }] of items.entries()) {
    try {
      if (!isAddress(patient, { strict: false })) throw new InvalidInputError('the patient is not an account address')
      if (!isObject(resource)) throw new InvalidInputError('not a FHIR resource')
      entries.push(toEntry(index, getAddress(patient), resource))
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error
      problems.push(`resource ${index}: ${error.shortMessage.replace(/\.$/, '')}`)
    }
  }
  if (problems.length > 0) {
    throw new MalformedBundleError(
      `${problems.length} of ${items.length} resources cannot be archived: ${problems.slice(0, MAX_LISTED).join('; ')}.`,
      {
        details: problems.join('\n'),
      },
    )
  }
  return entries
}

function toEntry(index: number, patient: Address, resource: JsonObject): ArchiveEntry {
  const doc = documentFromFhir(JSON.stringify(resource))
  if (!('bytes' in doc.content)) throw new Error('unreachable: FHIR content is always bytes')
  return { index, patient, content: doc.content.bytes, category: doc.category, sensitivity: doc.sensitivity }
}

function accountOf(patient: JsonObject, chainId: number): Address | undefined {
  const identifiers = Array.isArray(patient.identifier) ? patient.identifier : []
  for (const identifier of identifiers) {
    if (!isObject(identifier) || identifier.system !== ACCOUNT_IDENTIFIER_SYSTEM || typeof identifier.value !== 'string') continue
    const match = /^eip155:(\d+):(0x[0-9a-fA-F]{40})$/.exec(identifier.value)
    if (match && Number(match[1]) === chainId) return getAddress(match[2]!)
  }
  return undefined
}

/** The account of the Patient a resource's `subject` or `patient` refers to (relative, absolute or fullUrl). */
function subjectOf(resource: JsonObject, refs: Map<string, Address>): Address | undefined {
  for (const element of ['subject', 'patient'] as const) {
    const value = resource[element]
    const reference = isObject(value) ? value.reference : undefined
    if (typeof reference !== 'string') continue
    const direct = refs.get(reference)
    if (direct) return direct
    const relative = /(?:^|\/)(Patient\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference)?.[1]
    if (relative && refs.has(relative)) return refs.get(relative)
  }
  return undefined
}
