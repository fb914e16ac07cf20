import { OperationOutcomeError, crawlTypedValue, isPrimitiveType, toTypedValue, validateResource } from '@medplum/core'
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes'
import { InvalidInputError } from '../errors.js'
import { ensureFhirResourceTypes, isFhirResourceType } from './definitions.js'
import { requiredBindingProblems } from './requiredBindings.js'

/**
 * Parsing and validating FHIR R4 JSON. Every error message names the path or field that is wrong,
 * never a value from the resource: a value may be the patient's name, a diagnosis or a result.
 * Field names and paths are echoed only when they look like FHIR element names, since a JSON key
 * is input too.
 */

/** Deeper than any real FHIR resource; stops the recursive walks before the stack does. */
const MAX_DEPTH = 128
/** Issues spelled out in the message; the full list goes to `details`. */
const MAX_LISTED_ISSUES = 10

/** Parses JSON text or UTF-8 bytes and validates the result as a FHIR R4 resource. */
export function parseFhirResource(input: Uint8Array | string): Resource {
  return validateFhirResource(parseJson(input))
}

/**
 * Validates an already-parsed JSON value as a FHIR R4 resource (any resource type, Bundles
 * included) and returns it unchanged. Throws InvalidInputError listing the failing paths.
 */
export function validateFhirResource(value: unknown): Resource {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError('A FHIR resource must be a JSON object.')
  }
  const resourceType: unknown = (value as Record<string, unknown>)['resourceType']
  if (resourceType === undefined) {
    throw new InvalidInputError('The FHIR resource has no resourceType.', {
      hint: 'Add a "resourceType" field, e.g. "Observation".',
    })
  }
  if (typeof resourceType !== 'string') throw new InvalidInputError('The FHIR resource field resourceType must be a string.')
  // The value itself is not echoed: it is input like any other field.
  if (!isFhirResourceType(resourceType)) {
    throw new InvalidInputError('The FHIR resource has an unknown resourceType (not a FHIR R4 resource type).')
  }

  // Nested resources (Bundle entries, contained resources, Parameters) with a bad resourceType:
  // Medplum would stop at the first with "Unknown data type: <value>"; we report the paths instead.
  const walk: ResourceWalk = { badTypes: [], badIds: [], types: new Set([resourceType]) }
  walkResources(value, resourceType, 0, walk)
  if (walk.badTypes.length > 0) {
    throw invalid(
      resourceType,
      walk.badTypes.map((path) => `${path}: unknown or missing FHIR R4 resourceType`),
    )
  }

  // The schema of every resource type in the tree, and no other: indexing all of them cost a command
  // that validated one record 0.6 s of CPU (definitions.ts).
  ensureFhirResourceTypes(walk.types)
  const nonObjects = nonObjectComplexValues(value as Resource)
  const problems = [
    ...walk.badIds.map((path) => `${path}: Invalid id format`),
    ...nonObjects.map((p) => `${safePath(p.path)}: expected a JSON object (${p.type})`),
  ]
  // Medplum's complaints about the insides of those values (a string's characters read as keys) are noise.
  const insideNonObject = (issue: OperationOutcomeIssue) =>
    issue.expression?.some((e) => nonObjects.some((p) => e.startsWith(`${p.path}.`))) ?? false
  try {
    validateResource(value as Resource)
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      // A validator failure on odd input; its message may quote values, so it is not passed on.
      if (problems.length > 0) throw invalid(resourceType, problems)
      throw new InvalidInputError(`The FHIR ${resourceType} could not be validated.`, {
        hint: 'Check that every field has the JSON type FHIR R4 expects.',
      })
    }
    const issues = (err.outcome.issue ?? []).filter((i) => (i.severity === 'error' || i.severity === 'fatal') && !insideNonObject(i))
    problems.push(...issues.map(describeIssue))
    if (problems.length === 0) problems.push('the validator rejected it without details')
  }
  problems.push(...requiredBindingProblems(value as Record<string, unknown>))
  if (problems.length > 0) throw invalid(resourceType, problems)
  return value as Resource
}

function parseJson(input: Uint8Array | string): unknown {
  let text: string
  if (typeof input === 'string') {
    text = input
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input)
    } catch {
      throw new InvalidInputError('The FHIR resource is not valid UTF-8 text.')
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1) // a byte-order mark (TextDecoder already drops it from bytes)
  try {
    return JSON.parse(text)
  } catch (err) {
    // V8's SyntaxError quotes the input around the error, so only the position is kept.
    const position = err instanceof SyntaxError ? /position (\d+)/.exec(err.message)?.[1] : undefined
    throw new InvalidInputError(`The FHIR resource is not valid JSON${position === undefined ? '' : ` (error at character ${position})`}.`)
  }
}

function invalid(resourceType: string, problems: string[]): InvalidInputError {
  const unique = [...new Set(problems)]
  const listed = unique.slice(0, MAX_LISTED_ISSUES).join('; ')
  const more = unique.length > MAX_LISTED_ISSUES ? `; and ${unique.length - MAX_LISTED_ISSUES} more` : ''
  return new InvalidInputError(`The FHIR ${resourceType} is not valid: ${listed}${more}.`, { details: unique.join('\n') })
}

type ResourceWalk = { badTypes: string[]; badIds: string[]; types: Set<string> }

/** FHIR R4 `id`. Medplum types Resource.id as a plain string and does not check it. */
const RESOURCE_ID = /^[A-Za-z0-9\-.]{1,64}$/

/** Checks every resource in the tree (the root, Bundle entries, contained, ...) for its resourceType and id, and collects their types. */
function walkResources(value: unknown, path: string, depth: number, out: ResourceWalk): void {
  if (depth > MAX_DEPTH) throw new InvalidInputError(`The FHIR resource is nested more than ${MAX_DEPTH} levels deep.`)
  if (typeof value !== 'object' || value === null) return
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) walkResources(item, `${path}[${i}]`, depth + 1, out)
    return
  }
  const record = value as Record<string, unknown>
  if (Object.hasOwn(record, 'resourceType')) {
    const type = record['resourceType']
    if (depth > 0 && (typeof type !== 'string' || !isFhirResourceType(type))) out.badTypes.push(path)
    else if (typeof type === 'string') out.types.add(type)
    const id = record['id']
    if (typeof id === 'string' && !RESOURCE_ID.test(id)) out.badIds.push(`${path}.id`)
  }
  for (const [key, child] of Object.entries(record)) {
    walkResources(child, `${path}.${safeName(key)}`, depth + 1, out)
  }
}

/**
 * Medplum checks the JSON type of primitive elements but not that a complex element is an object:
 * `"valueQuantity": 5` or `"code": "abc"` pass its validator. This walks the same schema and
 * reports those paths.
 */
function nonObjectComplexValues(resource: Resource): { path: string; type: string }[] {
  const problems: { path: string; type: string }[] = []
  try {
    crawlTypedValue(toTypedValue(resource), {
      visitProperty: (_parent, _key, _path, propertyValues) => {
        for (const values of propertyValues) {
          for (const v of Array.isArray(values) ? values : [values]) {
            if (v.value === undefined || v.value === null || isPrimitiveType(v.type)) continue
            if (typeof v.value !== 'object' || Array.isArray(v.value)) problems.push({ path: v.path, type: v.type })
          }
        }
      },
    })
  } catch {
    // Input odd enough to break the crawl also fails validateResource, which reports it.
  }
  return problems
}

/** A FHIR element name (optionally `_`-prefixed for primitive extensions, `[x]` for choice types). */
const ELEMENT_NAME = /^_?[A-Za-z][A-Za-z0-9]{0,63}(\[x\])?$/
const PATH_SEGMENT = /^_?[A-Za-z][A-Za-z0-9]{0,63}(\[x\])?(\[\d+\])*$/

function safeName(key: string): string {
  return ELEMENT_NAME.test(key) ? key : '<invalid name>'
}

function safePath(path: string): string {
  return path
    .split('.')
    .map((segment) => (PATH_SEGMENT.test(segment) ? segment : '<invalid name>'))
    .join('.')
}

/**
 * One line per issue: the FHIRPath of the element, Medplum's description and, for a failed
 * invariant, the invariant's own FHIRPath expression. Medplum's descriptions are fixed templates;
 * the only ones that quote input quote a JSON key ("Invalid additional property "x"") or a
 * resourceType ("Unknown data type: x"); those are cut here, the path already names the field.
 */
function describeIssue(issue: OperationOutcomeIssue): string {
  const where = issue.expression?.map(safePath).join(', ')
  let text = issue.details?.text ?? issue.code
  if (text.startsWith('Unknown data type')) text = 'Unknown data type'
  else if (text.startsWith('Invalid additional property')) text = 'Invalid additional property (not an element of this type)'
  // Invariant descriptions come from the spec and may quote FHIRPath; no other error template quotes anything.
  else if (issue.code !== 'invariant' && text.includes('"')) text = text.slice(0, text.indexOf('"')).trim()
  const invariant = issue.code === 'invariant' ? constraintExpression(issue.diagnostics) : undefined
  return `${where ? `${where}: ` : ''}${text}${invariant ? ` [${invariant}]` : ''}`
}

/** Medplum puts `{"fhirpath": "<invariant expression>"}` in diagnostics; the expression comes from the spec. */
function constraintExpression(diagnostics: string | undefined): string | undefined {
  if (!diagnostics) return undefined
  try {
    const parsed: unknown = JSON.parse(diagnostics)
    if (typeof parsed === 'object' && parsed !== null) {
      const fhirpath = (parsed as Record<string, unknown>)['fhirpath']
      if (typeof fhirpath === 'string') return fhirpath
    }
  } catch {
    // not JSON: ignore
  }
  return undefined
}
