import { createHash } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { InvalidInputError, MalformedBundleError } from '../errors.js'
import { mapReferences, parseReference } from '../fhir/index.js'
import { type Category, type DocumentInput, documentFromFhir } from '../records/index.js'

/** Bundle types whose entries are separate resources (a `document` or `message` Bundle is one record: `medvault record add`). */
export const IMPORT_BUNDLE_TYPES = ['collection', 'transaction', 'batch', 'searchset'] as const
export type ImportBundleType = (typeof IMPORT_BUNDLE_TYPES)[number]

const OTHER_BUNDLE_TYPES = new Set(['document', 'message', 'transaction-response', 'batch-response', 'history'])
/** Invalid entries named one by one in the error message; the rest are counted. */
const MAX_LISTED = 5

/** One resource of the bundle that becomes one record. */
export type ImportEntry = {
  /** Position in `Bundle.entry` (0-based). */
  index: number
  resourceType: string
  /** The resource in canonical form (RFC 8785), as `record add` stores it. */
  content: Uint8Array
  /** sha256 of `content`. */
  digest: Hex
  category: Category
  sensitivity: number
}

/** An entry that is not imported, and why. */
export type SkippedEntry = {
  index: number
  resourceType: string
  /** `patient`: the Patient resource itself (demographics are not stored as a record); `search-outcome`: a searchset's OperationOutcome. */
  reason: 'patient' | 'search-outcome'
}

export type ParsedImportBundle = {
  type: ImportBundleType
  /** sha256 of the file's bytes: with the patient, the issuer and the chain, it names the import's journal. */
  bundleDigest: Hex
  entries: ImportEntry[]
  skipped: SkippedEntry[]
  /**
   * How the entries refer to the Bundle's Patient once their references are resolved
   * (`Patient/<its id>`): `importBundle` points these at the patient's account.
   */
  patientReference?: string
}

type JsonObject = Record<string, unknown>
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Parses a FHIR R4 Bundle holding a patient's history (a Synthea export, a `$everything` result)
 * for import: a Bundle of type collection, transaction, batch or searchset. Every entry's resource
 * is validated and categorised exactly as `record add` does it (FHIR R4 validation, canonical
 * JSON, category and sensitivity derived from the resource) and becomes one record. The Patient
 * resource itself is skipped and listed in `skipped`; a searchset's OperationOutcome entries too.
 *
 * Refused with MalformedBundleError (which names entry positions and paths, never values): not
 * JSON, not a Bundle, another Bundle type, no entries, an entry without a resource, invalid
 * resources, more than one Patient, or a resource whose subject is another patient.
 *
 * References between entries are resolved as a FHIR server resolves a transaction's, before
 * anything is sealed: see `bundleLinks`.
 *
 * @param bytes - The Bundle file's bytes (UTF-8 JSON).
 * @param options.patient - The account the history is imported for: references to the Bundle's
 *   Patient become `Patient/<account>` (else `importBundle` does it).
 * @example
 * const bundle = parseImportBundle(readFileSync('synthea/alice.json'))
 * console.log(bundle.entries.length, bundle.skipped)
 */
export function parseImportBundle(bytes: Uint8Array, options: { patient?: Address } = {}): ParsedImportBundle {
  const bundleDigest: Hex = `0x${createHash('sha256').update(bytes).digest('hex')}`
  const bundle = parseJson(bytes)
  if (!isObject(bundle) || bundle.resourceType !== 'Bundle') {
    throw new MalformedBundleError('The file is not a FHIR Bundle (its resourceType is not "Bundle").', {
      hint: 'To add a single resource, use `medvault record add FILE`.',
    })
  }
  const type = bundle.type
  if (!(IMPORT_BUNDLE_TYPES as readonly unknown[]).includes(type)) {
    const named = typeof type === 'string' && OTHER_BUNDLE_TYPES.has(type) ? ` "${type}"` : ''
    throw new MalformedBundleError(
      `The Bundle's type${named} cannot be imported: use a collection, transaction, batch or searchset Bundle.`,
      {
        hint: named === ' "document"' ? 'A document Bundle is one record: add it with `medvault record add FILE`.' : '',
      },
    )
  }
  const rawEntries = bundle.entry
  if (rawEntries !== undefined && !Array.isArray(rawEntries)) throw new MalformedBundleError('Bundle.entry must be a JSON array.')
  if (!rawEntries || rawEntries.length === 0) throw new MalformedBundleError('The Bundle has no entries: there is nothing to import.')

  const problems: string[] = []
  const resources: { index: number; resource: JsonObject }[] = []
  for (const [index, entry] of rawEntries.entries()) {
    const resource = isObject(entry) ? entry.resource : undefined
    if (!isObject(resource)) {
      problems.push(`entry[${index}]: no resource (an import needs each entry's resource, not only a request)`)
      continue
    }
    resources.push({ index, resource })
  }

  const skipped: SkippedEntry[] = []
  const patients = resources.filter(({ resource }) => resource.resourceType === 'Patient')
  if (patients.length > 1) {
    throw new MalformedBundleError(
      `The Bundle holds ${patients.length} Patient resources (entries ${patients.map((p) => p.index).join(', ')}); an import is one patient's history.`,
      { hint: "Split it into one Bundle per patient, and import each into that patient's records." },
    )
  }
  const patientRefs = referencesTo(patients[0], rawEntries)
  const links = bundleLinks(resources, rawEntries, patientRefs, options.patient)

  const entries: ImportEntry[] = []
  for (const { index, resource } of resources) {
    const resourceType = typeof resource.resourceType === 'string' ? resource.resourceType : '(none)'
    if (resourceType === 'Patient') {
      skipped.push({ index, resourceType, reason: 'patient' })
      continue
    }
    const entry = rawEntries[index] as JsonObject
    if (type === 'searchset' && resourceType === 'OperationOutcome' && isObject(entry.search) && entry.search.mode === 'outcome') {
      skipped.push({ index, resourceType, reason: 'search-outcome' })
      continue
    }
    const foreign = foreignSubject(resource, patientRefs)
    if (foreign) {
      problems.push(`entry[${index}] (${safeResourceType(resourceType)}): its ${foreign} refers to another Patient than the Bundle's`)
      continue
    }
    let doc: DocumentInput
    try {
      doc = documentFromFhir(JSON.stringify(links.resolve(resource)))
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error
      problems.push(`entry[${index}]: ${error.shortMessage.replace(/\.$/, '')}`)
      continue
    }
    if (!('bytes' in doc.content)) throw new Error('unreachable: FHIR content is always bytes')
    entries.push({
      index,
      resourceType,
      content: doc.content.bytes,
      digest: `0x${createHash('sha256').update(doc.content.bytes).digest('hex')}`,
      category: doc.category,
      sensitivity: doc.sensitivity,
    })
  }

  if (problems.length > 0) {
    throw bundleEntriesError(problems, rawEntries.length, {
      verb: 'imported',
      hint: 'Nothing was imported. Fix the Bundle and run the import again.',
    })
  }
  if (entries.length === 0) throw new MalformedBundleError('The Bundle holds no resources to import besides the Patient.')
  return {
    type: type as ImportBundleType,
    bundleDigest,
    entries,
    skipped,
    ...(links.patientReference ? { patientReference: links.patientReference } : {}),
  }
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/

/**
 * Resolves the references between a Bundle's entries as a FHIR server resolves a transaction's
 * (https://hl7.org/fhir/R4/http.html#trules): each resource keeps its id, or takes the one its
 * `urn:uuid:` fullUrl carries, and every reference to an entry's fullUrl becomes `Type/id`;
 * references to the Patient become `Patient/<account>` (`Patient/<its id>` until the account is known).
 * The server serves each record under its logical id and maps these ids to it.
 */
function bundleLinks(
  resources: { index: number; resource: JsonObject }[],
  rawEntries: unknown[],
  patient: { id?: string; fullUrl?: string },
  account: Address | undefined,
): { resolve: (resource: JsonObject) => JsonObject; patientReference?: string } {
  const idOf = new Map<number, string>()
  const target = new Map<string, string>()
  const patientId = patient.id ?? (patient.fullUrl?.startsWith('urn:uuid:') ? patient.fullUrl.slice(9) : undefined)
  const patientReference = account ? `Patient/${account}` : patientId && FHIR_ID.test(patientId) ? `Patient/${patientId}` : undefined
  for (const { index, resource } of resources) {
    const type = resource.resourceType
    if (typeof type !== 'string') continue
    const entry = rawEntries[index] as JsonObject
    const fullUrl = typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined
    if (type === 'Patient') {
      if (patientReference && fullUrl) target.set(fullUrl, patientReference)
      continue
    }
    const fromUrl = fullUrl?.startsWith('urn:uuid:') ? fullUrl.slice(9) : fullUrl ? parseReference(fullUrl)?.id : undefined
    const id =
      typeof resource.id === 'string' && FHIR_ID.test(resource.id) ? resource.id : fromUrl && FHIR_ID.test(fromUrl) ? fromUrl : undefined
    if (!id) continue
    idOf.set(index, id)
    if (fullUrl) target.set(fullUrl, `${type}/${id}`)
  }
  const byResource = new Map(resources.map(({ index, resource }) => [resource, index]))
  return {
    ...(patientReference ? { patientReference } : {}),
    resolve(resource) {
      const id = idOf.get(byResource.get(resource)!)
      const resolved = mapReferences(resource, (reference) => {
        const found = target.get(reference)
        if (found) return found
        const rest = parseReference(reference)
        if (rest?.type === 'Patient' && patientReference && (rest.id === patientId || reference === patient.fullUrl))
          return patientReference
        return undefined
      })
      return id ? { ...resolved, id } : resolved
    },
  }
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new MalformedBundleError('The Bundle is not valid UTF-8 text.')
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    // V8's SyntaxError quotes the input around the error, so only the position is kept.
    const position = err instanceof SyntaxError ? /position (\d+)/.exec(err.message)?.[1] : undefined
    throw new MalformedBundleError(`The Bundle is not valid JSON${position === undefined ? '' : ` (error at character ${position})`}.`)
  }
}

/** A resource type is echoed only when it looks like one (it is input too). */
export const safeResourceType = (type: unknown) => (typeof type === 'string' && /^[A-Z][A-Za-z]{1,63}$/.test(type) ? type : 'unknown type')

/**
 * The error for a Bundle some of whose entries cannot become records (import or archive): how
 * many, the first few problems in the message, all of them in `details`.
 */
export function bundleEntriesError(
  problems: readonly string[],
  total: number,
  params: { verb: string; hint: string },
): MalformedBundleError {
  const listed = problems.slice(0, MAX_LISTED).join('; ')
  const more = problems.length > MAX_LISTED ? `; and ${problems.length - MAX_LISTED} more` : ''
  return new MalformedBundleError(`${problems.length} of ${total} Bundle entries cannot be ${params.verb}: ${listed}${more}.`, {
    details: problems.join('\n'),
    hint: params.hint,
  })
}

/** The ways entries may refer to the Bundle's Patient: its fullUrl, `Patient/<id>` and absolute URLs ending so. */
function referencesTo(
  patient: { index: number; resource: JsonObject } | undefined,
  rawEntries: unknown[],
): { id?: string; fullUrl?: string } {
  if (!patient) return {}
  const entry = rawEntries[patient.index] as JsonObject
  const id = typeof patient.resource.id === 'string' ? patient.resource.id : undefined
  const fullUrl = typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined
  return { ...(id ? { id } : {}), ...(fullUrl ? { fullUrl } : {}) }
}

/**
 * The element (`subject` or `patient`) of a resource that names a Patient other than the Bundle's,
 * if any. Only literal `Patient/<id>` references (relative or absolute) are judged; `urn:uuid:`
 * references other than the Patient's fullUrl may name a Group or a Device and are let through.
 */
function foreignSubject(resource: JsonObject, patient: { id?: string; fullUrl?: string }): string | undefined {
  if (!patient.id && !patient.fullUrl) return undefined
  for (const element of ['subject', 'patient'] as const) {
    const value = resource[element]
    const reference = isObject(value) ? value.reference : undefined
    if (typeof reference !== 'string' || reference === patient.fullUrl) continue
    const match = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference)
    if (match && match[1] !== patient.id) return element
  }
  return undefined
}
