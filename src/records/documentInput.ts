import { createReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { canonicalFhirBytes, parseFhirResource, resolveCategory } from '../fhir/index.js'
import { InvalidInputError, NotFoundError } from '../errors.js'
import { type Category, parseCategory, requiredSensitivity } from '../core/index.js'
import type { RecordContent } from './sealRecord.js'

export const FHIR_JSON = 'application/fhir+json'

/** Anything above this is treated as a binary document and streamed, never parsed as FHIR. */
const MAX_FHIR_BYTES = 32 * 1024 * 1024

export type DocumentInput = {
  kind: 'fhir' | 'binary'
  content: RecordContent
  contentType: string
  category: Category
  sensitivity: number
  size: number
}

/**
 * Turns a file into a record's content. FHIR JSON (by content type, or a .json file) is validated
 * as FHIR R4 and stored in canonical form (RFC 8785), its category derived unless given. Any other
 * file is a binary: it needs an explicit content type and category, and is streamed, never loaded whole.
 */
export async function documentFromFile(path: string, options: { contentType?: string; category?: string } = {}): Promise<DocumentInput> {
  const info = await stat(path).catch(() => {
    throw new NotFoundError(`Cannot read ${path}.`, { hint: 'Check the path.' })
  })
  const looksFhir = options.contentType ? /fhir\+json|^application\/json$/.test(options.contentType) : path.toLowerCase().endsWith('.json')
  if (looksFhir) {
    if (info.size > MAX_FHIR_BYTES) throw new InvalidInputError(`${path} is too large for a FHIR resource (over 32 MB).`)
    const handle = await open(path)
    const bytes = await handle.readFile().finally(() => handle.close())
    return documentFromFhir(bytes, options.category)
  }
  if (!options.contentType || !options.category) {
    throw new InvalidInputError(`${path} is not FHIR JSON, so medvault cannot tell what it is.`, {
      hint: 'Give --content-type (e.g. application/dicom, application/pdf) and --category (e.g. imaging).',
    })
  }
  const category = parseCategory(options.category)
  return {
    kind: 'binary',
    content: { open: () => createReadStream(path, { highWaterMark: 1 << 20 }) },
    contentType: options.contentType,
    category,
    sensitivity: requiredSensitivity(category),
    size: info.size,
  }
}

/** A FHIR resource given as bytes: validated, canonicalised, categorised. */
export function documentFromFhir(bytes: Uint8Array | string, category?: string): DocumentInput {
  const resource = parseFhirResource(bytes)
  const canonical = canonicalFhirBytes(resource)
  const derived = resolveCategory(resource, category)
  return {
    kind: 'fhir',
    content: { bytes: canonical },
    contentType: FHIR_JSON,
    category: derived.category,
    sensitivity: derived.sensitivity,
    size: canonical.byteLength,
  }
}
