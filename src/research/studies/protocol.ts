import { type Hex, keccak256, toBytes, zeroHash } from 'viem'
import type { CID } from 'multiformats/cid'
import { InvalidInputError, StorageError } from '../../errors.js'
import type { BlobStore } from '../../storage/index.js'

/** One coded eligibility criterion: a record qualifies when it carries this coding anywhere. */
export type Criterion = { system: string; code: string }

/**
 * A protocol document is stored as given. When it is JSON with a `criteria` array of
 * `{system, code}`, those are the study's coded criteria and their hash goes on chain; any other
 * document (PDF, text) means the study has no coded criteria (the zero hash).
 */
export function criteriaOf(protocol: Uint8Array): Criterion[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(protocol).toString('utf8'))
  } catch {
    return []
  }
  const list = (parsed as { criteria?: unknown })?.criteria
  if (list === undefined) return []
  if (!Array.isArray(list) || !list.every((c) => typeof c?.system === 'string' && typeof c?.code === 'string')) {
    throw new InvalidInputError('The protocol\'s "criteria" must be a list of {"system": ..., "code": ...} codings.', {
      hint: 'e.g. [{"system": "http://loinc.org", "code": "2345-7"}]',
    })
  }
  return list.map((c: Criterion) => ({ system: c.system, code: c.code }))
}

/** The on-chain hash of coded criteria: keccak256 of their sorted JSON, or zero when there are none. */
export function criteriaHash(criteria: readonly Criterion[]): Hex {
  if (criteria.length === 0) return zeroHash
  const sorted = [...criteria].map((c) => `${c.system}|${c.code}`).sort()
  return keccak256(toBytes(JSON.stringify(sorted)))
}

export const descriptionHash = (description: string): Hex => keccak256(toBytes(description))

/**
 * The protocol document to store and the description to commit to on chain. A JSON protocol
 * carries the description (added when it has none), so readers can show the text its hash commits
 * to; any other document (PDF, text) is stored as given, and then only the hash is public.
 */
export function protocolWithDescription(protocol: Uint8Array, description: string | undefined): { bytes: Uint8Array; description: string } {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(protocol).toString('utf8'))
  } catch {
    parsed = undefined
  }
  const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
  const inDocument = isObject ? (parsed as { description?: unknown }).description : undefined
  if (inDocument !== undefined && typeof inDocument !== 'string') {
    throw new InvalidInputError('The protocol\'s "description" must be text.')
  }
  if (typeof inDocument === 'string') {
    if (description !== undefined && description !== inDocument) {
      throw new InvalidInputError('The protocol document has a "description" that differs from the one given.', {
        hint: 'Give the description once: in the protocol document or as --description.',
      })
    }
    return { bytes: protocol, description: inDocument }
  }
  if (description === undefined || description.trim() === '') {
    throw new InvalidInputError('A study needs a short description.', {
      hint: 'Pass --description TEXT, or put "description" in a JSON protocol document.',
    })
  }
  if (!isObject) return { bytes: protocol, description }
  return { bytes: Buffer.from(JSON.stringify({ ...(parsed as object), description }, null, 2)), description }
}

export async function storeBytes(store: BlobStore, bytes: Uint8Array): Promise<CID> {
  return store.add(
    (async function* () {
      yield bytes
    })(),
  )
}

export async function fetchBytes(store: BlobStore, cid: CID, what: string): Promise<Buffer> {
  const parts: Uint8Array[] = []
  try {
    for await (const part of store.cat(cid)) parts.push(part)
  } catch (cause) {
    if (cause instanceof StorageError || (cause as { code?: string })?.code) throw cause
    throw new StorageError(`The ${what} ${cid} cannot be fetched.`, { cause })
  }
  return Buffer.concat(parts)
}

/** Fetches a study's protocol and returns its coded criteria, checked against the on-chain hash. */
export async function studyCriteria(store: BlobStore, protocolCid: CID, onChainHash: Hex): Promise<Criterion[]> {
  const criteria = criteriaOf(await fetchBytes(store, protocolCid, 'protocol document'))
  if (criteriaHash(criteria) !== onChainHash) {
    throw new InvalidInputError("The study's protocol document does not match the criteria hash on chain.", {
      hint: 'The protocol stored under its CID is not the one the study was posted with; do not join.',
    })
  }
  return criteria
}

/** Whether a FHIR resource carries any of the criteria's codings (anywhere in it). */
export function meetsCriteria(resource: unknown, criteria: readonly Criterion[]): boolean {
  if (criteria.length === 0) return true
  const wanted = new Set(criteria.map((c) => `${c.system}|${c.code}`))
  const visit = (node: unknown): boolean => {
    if (Array.isArray(node)) return node.some(visit)
    if (typeof node !== 'object' || node === null) return false
    const o = node as Record<string, unknown>
    if (typeof o.system === 'string' && typeof o.code === 'string' && wanted.has(`${o.system}|${o.code}`)) return true
    return Object.values(o).some(visit)
  }
  return visit(resource)
}

/**
 * The study's short description, when its protocol document is JSON with a `"description"` whose
 * hash is the one on chain (as `POST /api/studies` stores it); undefined otherwise (a PDF protocol,
 * or a description kept elsewhere), so a text nobody committed to is never shown as the study's.
 */
export async function studyDescription(store: BlobStore, protocolCid: CID, onChainHash: Hex): Promise<string | undefined> {
  let parsed: unknown
  try {
    parsed = JSON.parse((await fetchBytes(store, protocolCid, 'protocol document')).toString('utf8'))
  } catch (error) {
    if (error instanceof SyntaxError) return undefined
    throw error
  }
  const text = (parsed as { description?: unknown } | null)?.description
  return typeof text === 'string' && descriptionHash(text) === onChainHash ? text : undefined
}

/**
 * The description to show beside a study in a listing: its published text, or null when there is
 * none or its protocol cannot be fetched now (a listing should not fail for one study's document).
 */
export async function publishedDescription(store: BlobStore, study: { protocolCid: CID; descriptionHash: Hex }): Promise<string | null> {
  return (await studyDescription(store, study.protocolCid, study.descriptionHash).catch(() => undefined)) ?? null
}
