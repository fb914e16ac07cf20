import { type InternalSchemaElement, tryGetDataType } from '@medplum/core'
import { ensureFhirDefinitions } from '../../fhir/index.js'

/** One JSON property of a FHIR type: its element (path, cardinality) and the concrete type of this property. */
export type PropertyInfo = { element: InternalSchemaElement; type: string; targetProfiles: readonly string[] }

const cache = new Map<string, Map<string, PropertyInfo> | undefined>()

/**
 * The JSON properties of a FHIR R4 type (resource, data type or backbone element, as
 * @medplum/core names them), with choice elements spelled out: `value[x]` gives `valueQuantity`,
 * `valueString`, ... each with its own type. Undefined for a type the definitions do not know.
 */
export function propertiesOf(typeName: string): ReadonlyMap<string, PropertyInfo> | undefined {
  if (cache.has(typeName)) return cache.get(typeName)
  ensureFhirDefinitions()
  const schema = tryGetDataType(typeName)
  let properties: Map<string, PropertyInfo> | undefined
  if (schema) {
    properties = new Map()
    for (const [name, element] of Object.entries(schema.elements)) {
      if (name.endsWith('[x]')) {
        const base = name.slice(0, -3)
        for (const t of element.type) {
          properties.set(`${base}${t.code.charAt(0).toUpperCase()}${t.code.slice(1)}`, {
            element,
            type: t.code,
            targetProfiles: t.targetProfile ?? [],
          })
        }
      } else if (element.type.length > 0) {
        const t = element.type[0]
        if (t) properties.set(name, { element, type: t.code, targetProfiles: t.targetProfile ?? [] })
      }
    }
  }
  cache.set(typeName, properties)
  return properties
}
