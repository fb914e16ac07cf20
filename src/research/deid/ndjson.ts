import type { Resource } from '@medplum/fhirtypes'

/** FHIR NDJSON (the Bulk Data format): one resource per line, each line ending in a newline. */
export function toNdjson(resources: Resource[]): string {
  return resources.map((r) => `${JSON.stringify(r)}\n`).join('')
}
