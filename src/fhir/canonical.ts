import type { Resource } from '@medplum/fhirtypes'
import canonicalize from 'canonicalize'
import { InvalidInputError } from '../errors.js'

/**
 * The RFC 8785 (JCS) canonical JSON of a resource, as UTF-8 bytes: object keys sorted by UTF-16
 * code units, no whitespace, numbers in ECMAScript shortest form, strings minimally escaped.
 * The content commitment hashes these bytes, so the same resource always hashes the same however
 * its JSON was laid out.
 *
 * Canonicalizing the parsed value means JSON number syntax is not preserved: 1.50 and 1.5 give the
 * same bytes (FHIR treats trailing zeros in a decimal as precision), and integers beyond 2^53 are
 * already rounded by JSON.parse.
 */
export function canonicalFhirBytes(resource: Resource): Uint8Array {
  let text: string | undefined
  try {
    text = canonicalize(resource)
  } catch (err) {
    // canonicalize's own messages name the problem, never the value; mapped anyway to keep it that way.
    const reason = err instanceof Error ? err.message : ''
    if (/NaN|Infinity/.test(reason))
      throw new InvalidInputError('The FHIR resource contains a number JSON cannot represent (NaN or Infinity).')
    if (/surrogate/i.test(reason))
      throw new InvalidInputError('The FHIR resource contains a string that is not valid Unicode (a lone surrogate).')
    if (/circular/i.test(reason)) throw new InvalidInputError('The FHIR resource refers to itself (a circular reference).')
    throw new InvalidInputError('The FHIR resource cannot be written as canonical JSON.')
  }
  if (typeof text !== 'string' || !text.startsWith('{')) throw new InvalidInputError('A FHIR resource must be a JSON object.')
  return new TextEncoder().encode(text)
}
