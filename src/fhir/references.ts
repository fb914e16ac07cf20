/**
 * Literal references (`Reference.reference`) anywhere in a resource, contained resources included:
 * found and rewritten, as a server does when it resolves a transaction's references
 * (https://hl7.org/fhir/R4/http.html#trules) and when it serves a Bundle whose entries must link up
 * (https://hl7.org/fhir/R4/bundle.html#references).
 */

type Json = unknown

/** Where a reference sits: the path of element names from the resource root (array positions left out). */
export type ReferencePath = readonly string[]

/**
 * The resource with every `reference` string replaced by what `rewrite` returns for it (unchanged
 * when it returns undefined). A local reference (`#id`, to a contained resource) is never passed.
 * The input is not modified.
 */
export function mapReferences<T>(resource: T, rewrite: (reference: string, path: ReferencePath) => string | undefined): T {
  const walk = (value: Json, path: string[]): Json => {
    if (Array.isArray(value)) return value.map((v) => walk(v, path))
    if (typeof value !== 'object' || value === null) return value
    const out: Record<string, Json> = {}
    for (const [key, v] of Object.entries(value)) {
      if (key === 'reference' && typeof v === 'string' && !v.startsWith('#')) out[key] = rewrite(v, path) ?? v
      else out[key] = walk(v, [...path, key])
    }
    return out
  }
  return walk(resource, []) as T
}

/** Every literal reference in a resource (local `#id` references left out), with where it sits. */
export function referencesIn(resource: unknown): { reference: string; path: ReferencePath }[] {
  const found: { reference: string; path: ReferencePath }[] = []
  mapReferences(resource, (reference, path) => {
    found.push({ reference, path })
    return undefined
  })
  return found
}

const RESTFUL = /^(?:(.*)\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/

/**
 * A reference's type and id when it is RESTful (`Type/id`, absolute or relative, with or without
 * `_history/vid`); undefined for `urn:` and conditional references.
 */
export function parseReference(reference: string): { base?: string; type: string; id: string; version?: string } | undefined {
  if (reference.startsWith('urn:') || reference.includes('?')) return undefined
  const m = RESTFUL.exec(reference)
  if (!m) return undefined
  return { ...(m[1] ? { base: m[1] } : {}), type: m[2]!, id: m[3]!, ...(m[4] ? { version: m[4] } : {}) }
}
