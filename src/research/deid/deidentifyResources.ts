import type { Bundle, Resource } from '@medplum/fhirtypes'
import { InvalidInputError } from '../../errors.js'
import { collectKnownValues } from './knownValues.js'
import { pseudonymousDicomUid, studyPseudonym } from './pseudonym.js'
import { type InputResource, buildReferenceIndex } from './references.js'
import type { DeidOptions, DeidResult, RemovedElement } from './types.js'
import { deidentifyResource } from './walk.js'

/**
 * A HIPAA Safe Harbor de-identified copy of one patient's FHIR R4 resources, for one study: none
 * of the 18 identifier kinds survive (see docs/deidentification.md), codes, values, units and
 * years do. Ids become study pseudonyms (the Patient's is {@link studyPseudonym}), references are
 * rewritten to them. The input is not changed.
 *
 * @param resources - one patient's resources (with or without the Patient)
 * @param options - the patient's pseudonym key and the study
 * @returns the copy, the pseudonym and where something was removed (paths and kinds, never values)
 * @example
 * const { resources, pseudonym } = deidentifyResources(records, { pseudonymKey, studyId: 'study-7' })
 */
export function deidentifyResources(resources: Resource[], options: DeidOptions): DeidResult {
  return deidentify(
    resources.map((resource) => ({ resource })),
    options,
  )
}

/**
 * {@link deidentifyResources} over a Bundle's entries (any Bundle type, e.g. a Synthea
 * transaction Bundle): references by the entries' `urn:uuid:` fullUrls are followed too. The
 * Bundle's own fields (identifier, timestamp, links) are not part of the copy.
 */
export function deidentifyBundle(bundle: Bundle, options: DeidOptions): DeidResult {
  if (bundle?.resourceType !== 'Bundle') throw new InvalidInputError('Expected a FHIR Bundle (its resourceType is not "Bundle").')
  const inputs: InputResource[] = []
  for (const entry of bundle.entry ?? []) {
    if (entry.resource) inputs.push({ resource: entry.resource, fullUrl: entry.fullUrl })
  }
  return deidentify(inputs, options)
}

function deidentify(inputs: InputResource[], options: DeidOptions): DeidResult {
  const pseudonym = studyPseudonym(options.pseudonymKey, options.studyId)
  for (const { resource } of inputs) {
    if (typeof resource !== 'object' || resource === null || typeof resource.resourceType !== 'string') {
      throw new InvalidInputError('Every input must be a FHIR resource (a JSON object with a resourceType).')
    }
  }
  const references = buildReferenceIndex(inputs, { ...options, pseudonym })
  const removed: RemovedElement[] = []
  const ctx = {
    references,
    known: collectKnownValues(inputs.map((i) => i.resource)),
    removed,
    now: new Date(),
    pseudonymousUid: (uid: string) => pseudonymousDicomUid(options.pseudonymKey, options.studyId, uid),
  }
  const out: Resource[] = []
  for (const { resource } of inputs) {
    const copy = deidentifyResource(resource, ctx)
    if (copy) out.push(copy)
  }
  return { resources: out, pseudonym, removed }
}
