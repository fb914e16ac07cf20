import { crawlTypedValue } from '@medplum/core'
import type { Bundle, Resource } from '@medplum/fhirtypes'
import { ensureFhirDefinitions } from '../fhir/index.js'

/**
 * FHIR Bundle minimization for SMART Health Cards (spec.smarthealth.cards, "Health Cards are Compact").
 *
 * For cards that will be represented as QR codes the issuer SHALL ensure `.vc.credentialSubject.fhirBundle` is created:
 * - without `Resource.id` elements
 * - without `Resource.meta` elements (or, if present, only `.meta.security`)
 * - without `DomainResource.text` elements
 * - without `CodeableConcept.text` elements
 * - without `Coding.display` elements
 * - with `Bundle.entry.fullUrl` populated with short `resource`-scheme URIs (`resource:0`, ...)
 * - with `Reference.reference` populated with short `resource`-scheme URIs
 *
 * The walk is type-aware (FHIR R4 StructureDefinitions via @medplum/core), so `text`/`display` are only removed where the
 * element really is a CodeableConcept/Coding/Narrative, including inside extensions (`valueCoding`, ...), `meta.security`
 * and backbone elements.
 */

export type MinimizeResult = {
  bundle: Bundle
  /** References that point outside the bundle and could therefore not be rewritten to `resource:N`. */
  unresolvedReferences: string[]
}

type Json = Record<string, unknown>

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Returns a minimized deep copy of `bundle`; the input is not modified. */
export function minimizeBundle(bundle: Bundle): Bundle {
  return minimizeBundleWithReport(bundle).bundle
}

export function minimizeBundleWithReport(bundle: Bundle): MinimizeResult {
  if (!isObject(bundle) || bundle.resourceType !== 'Bundle') {
    throw new TypeError('minimizeBundle: expected a FHIR Bundle')
  }
  ensureFhirDefinitions()
  const copy = structuredClone(bundle) as Bundle
  const entries = copy.entry ?? []

  // 1. Map every way an entry can be referenced (its fullUrl, Type/id, absolute .../Type/id[/_history/v]) to its index.
  const byUrl = new Map<string, number>()
  const byTypeId = new Map<string, number>()
  entries.forEach((entry, i) => {
    if (typeof entry.fullUrl === 'string') byUrl.set(entry.fullUrl, i)
    const r = entry.resource
    if (r && typeof r.id === 'string') byTypeId.set(`${r.resourceType}/${r.id}`, i)
  })
  const resolve = (ref: string): number | undefined => {
    const direct = byUrl.get(ref)
    if (direct !== undefined) return direct
    if (/^resource:\d+$/.test(ref)) {
      const n = Number(ref.slice('resource:'.length))
      return n < entries.length ? n : undefined
    }
    const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(ref)
    if (m) return byTypeId.get(`${m[1]}/${m[2]}`)
    return undefined
  }

  // 2. Collect typed nodes in one crawl, then mutate (mutating during the crawl would confuse it).
  const references: Json[] = []
  const codeableConcepts: Json[] = []
  const codings: Json[] = []
  const narrativeOwners: Json[] = []
  const resources: { value: Json; contained: boolean }[] = []
  crawlTypedValue(
    { type: 'Bundle', value: copy },
    {
      onEnterResource(path, value) {
        if (isObject(value.value)) resources.push({ value: value.value, contained: /\.contained$/.test(path) })
      },
      visitProperty(parent, key, _path, propertyValues) {
        for (const tv of propertyValues.flat()) {
          if (!isObject(tv.value)) continue
          switch (tv.type) {
            case 'Reference':
              references.push(tv.value)
              break
            case 'CodeableConcept':
              codeableConcepts.push(tv.value)
              break
            case 'Coding':
              codings.push(tv.value)
              break
            case 'Narrative':
              if (key === 'text' && isObject(parent.value)) narrativeOwners.push(parent.value)
              break
            default:
              // Resources nested in Bundle.entry.resource / contained are also reported here with their resource type.
              if (isObject(tv.value) && typeof tv.value.resourceType === 'string' && !resources.some((r) => r.value === tv.value)) {
                resources.push({ value: tv.value, contained: key === 'contained' })
              }
          }
        }
      },
    },
    { skipMissingProperties: true },
  )

  // 3. Apply the rules.
  const unresolvedReferences: string[] = []
  for (const ref of references) {
    if (typeof ref.reference !== 'string' || ref.reference.startsWith('#')) continue // local refs to contained resources stay
    const n = resolve(ref.reference)
    if (n === undefined) unresolvedReferences.push(ref.reference)
    else ref.reference = `resource:${n}`
  }
  for (const cc of codeableConcepts) delete cc.text
  for (const c of codings) delete c.display
  for (const owner of narrativeOwners) delete owner.text
  const root = copy as unknown as Json
  for (const r of [{ value: root, contained: false }, ...resources]) {
    // Contained resources keep their id: it is the target of `#id` references and not a server id.
    if (!r.contained) delete r.value.id
    stripMeta(r.value)
  }
  entries.forEach((entry, i) => {
    entry.fullUrl = `resource:${i}`
  })
  return { bundle: copy, unresolvedReferences }
}

function stripMeta(resource: Json): void {
  const meta = resource.meta
  if (meta === undefined) return
  const security = isObject(meta) ? meta.security : undefined
  if (Array.isArray(security) && security.length > 0) resource.meta = { security }
  else delete resource.meta
}

/** The resource at `resource:N` in a minimized bundle. */
export function resolveShortReference(bundle: Bundle, reference: string): Resource | undefined {
  const m = /^resource:(\d+)$/.exec(reference)
  if (!m) return undefined
  return bundle.entry?.[Number(m[1])]?.resource
}
