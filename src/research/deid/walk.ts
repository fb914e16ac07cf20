import type { Resource } from '@medplum/fhirtypes'
import { findIdentifierPattern } from './patterns.js'
import type { KnownValues } from './knownValues.js'
import type { ReferenceIndex } from './references.js'
import {
  AGE_GROUP_EXTENSION,
  ALLOWED_EXTENSIONS,
  DROPPED_ELEMENTS,
  DROPPED_RESOURCE_TYPES,
  KEPT_TEXT,
  KEPT_URI,
  PEOPLE_WITH_BIRTH_DATES,
  PSEUDONYMISED_UIDS,
  TEXT_KINDS,
  contactPointKind,
  extensionKind,
  identifierKind,
} from './rules.js'
import { type PropertyInfo, propertiesOf } from './schema.js'
import type { IdentifierKind, RemovedElement } from './types.js'
import { safeZip3 } from './zip3.js'

/**
 * The de-identifying walk: every element of a resource is visited with its FHIR type from the R4
 * StructureDefinitions (via @medplum/core's schema), and the type decides what happens: a
 * HumanName, ContactPoint, Identifier, Annotation, Narrative or Signature goes; an Address keeps
 * its state, country and Safe Harbor ZIP3; a date keeps its year; a Reference is rewritten to the
 * study ids; an extension stays only if allow-listed; text and URIs stay only where the rules keep
 * them. Written by hand: FHIRPath and @medplum/core read resources, but no library applies Safe
 * Harbor to one.
 */

type Json = Record<string, unknown>

export type WalkContext = {
  references: ReferenceIndex
  known: KnownValues
  removed: RemovedElement[]
  /** Today, for the 90+ rule. */
  now: Date
  /** The study's stand-in for a DICOM UID. */
  pseudonymousUid(uid: string): string
}

type Scope = {
  ctx: WalkContext
  /** The top-level resource's type, for the removal list. */
  resourceType: string
  /** Original contained ids (`#x`) to their study ids, for the resource being walked. */
  contained: Map<string, string>
  /** Inside an allow-listed extension: its nested extensions and values are kept (and checked). */
  allowedExtension: boolean
}

const MAX_DEPTH = 128
const UCUM = 'http://unitsofmeasure.org'
const DATA_ABSENT_REASON = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason'

/** De-identifies one top-level resource; undefined when the whole resource goes. */
export function deidentifyResource(resource: Resource, ctx: WalkContext): Resource | undefined {
  const scope: Scope = { ctx, resourceType: resource.resourceType, contained: new Map(), allowedExtension: false }
  return walkResource(resource as unknown as Json, resource.resourceType, scope, ctx.references.idOf(resource), 0)
}

function remove(scope: Scope, path: string, kind: IdentifierKind): undefined {
  scope.ctx.removed.push({ resourceType: scope.resourceType, path, kind })
  return undefined
}

function walkResource(resource: Json, path: string, scope: Scope, id: string | undefined, depth: number): Resource | undefined {
  const type = resource['resourceType']
  if (typeof type !== 'string' || !propertiesOf(type)) return remove(scope, path, 'other-id')
  const dropped = DROPPED_RESOURCE_TYPES.get(type)
  if (dropped) return remove(scope, path, dropped)

  // Contained resources get short local ids; references to them (`#id`) are rewritten inside this resource only.
  const contained = Array.isArray(resource['contained']) ? (resource['contained'] as unknown[]) : []
  const inner: Scope = { ...scope, contained: new Map() }
  for (const [i, c] of contained.entries()) {
    const cid = (c as Json | null)?.['id']
    const ctype = (c as Json | null)?.['resourceType']
    // A reference to a contained resource that will be dropped must go too, or it would dangle.
    const kept = typeof ctype === 'string' && !DROPPED_RESOURCE_TYPES.has(ctype) && propertiesOf(ctype) !== undefined
    if (typeof cid === 'string' && kept) inner.contained.set(`#${cid}`, `c${i}`)
  }

  const out = walkComplex(resource, type, path, inner, depth, new Set(['resourceType', 'id', 'contained'])) ?? {}
  if (contained.length > 0) {
    const kept: Json[] = []
    for (const [i, c] of contained.entries()) {
      if (typeof c !== 'object' || c === null) continue
      const r = walkResource(
        c as Json,
        `${path}.contained[${i}]`,
        inner,
        inner.contained.get(`#${(c as Json)['id']}`) ?? `c${i}`,
        depth + 1,
      )
      if (r) kept.push(r as unknown as Json)
    }
    if (kept.length > 0) out['contained'] = kept
  }
  if (PEOPLE_WITH_BIRTH_DATES.has(type)) applyAgeRule(resource, out, path, scope)
  return { resourceType: type, ...(id === undefined ? {} : { id }), ...out } as unknown as Resource
}

/**
 * Ages over 89 are grouped as 90 or older, and the birth year that would tell the age goes too
 * (45 CFR 164.514(b)(2)(i)(C)). The output says "masked" on birthDate and carries the group as an
 * extension (valueAge >= 90 a), which the k-anonymity report reads.
 */
function applyAgeRule(original: Json, out: Json, path: string, scope: Scope): void {
  const birthDate = original['birthDate']
  if (typeof birthDate !== 'string') return
  const age = ageOn(birthDate, scope.ctx.now)
  if (age === undefined || age < 90) return
  delete out['birthDate']
  out['_birthDate'] = { extension: [{ url: DATA_ABSENT_REASON, valueCode: 'masked' }] }
  const extensions = Array.isArray(out['extension']) ? (out['extension'] as Json[]) : []
  out['extension'] = [
    ...extensions,
    { url: AGE_GROUP_EXTENSION, valueAge: { value: 90, comparator: '>=', unit: 'years', system: UCUM, code: 'a' } },
  ]
  remove(scope, `${path}.birthDate`, 'age')
}

/** Whole years from a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) to `now`; a partial date counts from its earliest day, so the age is never underestimated. */
function ageOn(birthDate: string, now: Date): number | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(birthDate)
  if (!m) return undefined
  const year = Number(m[1])
  const month = m[2] ? Number(m[2]) : 1
  const day = m[3] ? Number(m[3]) : 1
  let age = now.getUTCFullYear() - year
  if (now.getUTCMonth() + 1 < month || (now.getUTCMonth() + 1 === month && now.getUTCDate() < day)) age -= 1
  return age
}

/** Walks a complex value's properties by its type's schema; unknown properties are removed. */
function walkComplex(value: Json, typeName: string, path: string, scope: Scope, depth: number, skip = new Set<string>()): Json | undefined {
  if (depth > MAX_DEPTH) return remove(scope, path, 'other-id')
  const properties = propertiesOf(typeName)
  if (!properties) return remove(scope, path, 'other-id')
  const out: Json = {}
  for (const [key, child] of Object.entries(value)) {
    if (skip.has(key)) continue
    if (key.startsWith('_')) {
      // A primitive's id and extensions: only allow-listed extensions stay.
      const kept = walkPrimitiveExtras(child, `${path}.${safeKey(key, properties)}`, scope, depth + 1)
      if (kept) out[key] = kept
      continue
    }
    const info = properties.get(key)
    if (!info) {
      remove(scope, `${path}.<unknown element>`, 'other-id')
      continue
    }
    const childPath = `${path}.${key}`
    const result = Array.isArray(child)
      ? child.map((item, i) => walkValue(item, info, `${childPath}[${i}]`, scope, depth + 1)).filter((v) => v !== undefined)
      : walkValue(child, info, childPath, scope, depth + 1)
    if (result === undefined || (Array.isArray(result) && result.length === 0)) continue
    out[key] = result
  }
  if (Object.keys(out).length === 0) return undefined
  // An element that lost a mandatory part (a coverage class without its value) would be invalid and meaningless: it goes whole.
  if (typeName !== 'Extension' && !isResource(value)) {
    for (const [name, element] of mandatoryElements(typeName)) {
      if (element.min > 0 && !hasElement(out, name)) return remove(scope, path, 'other-id')
    }
  }
  return out
}

function isResource(value: Json): boolean {
  return typeof value['resourceType'] === 'string'
}

function mandatoryElements(typeName: string): [string, { min: number }][] {
  const seen = new Map<string, { min: number }>()
  for (const info of propertiesOf(typeName)?.values() ?? []) {
    const name = info.element.path.slice(info.element.path.lastIndexOf('.') + 1)
    if (info.element.min > 0) seen.set(name, info.element)
  }
  return [...seen]
}

function hasElement(out: Json, name: string): boolean {
  if (!name.endsWith('[x]')) return out[name] !== undefined
  const base = name.slice(0, -3)
  return Object.keys(out).some((k) => k.startsWith(base) && /^[A-Z]/.test(k.slice(base.length)))
}

function safeKey(key: string, properties: ReadonlyMap<string, PropertyInfo>): string {
  return properties.has(key.slice(1)) ? key : '<unknown element>'
}

function walkPrimitiveExtras(value: unknown, path: string, scope: Scope, depth: number): Json | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const extension = (value as Json)['extension']
  if (!Array.isArray(extension)) return undefined
  const info = propertiesOf('Element')?.get('extension')
  if (!info) return undefined
  const kept = extension.map((e, i) => walkValue(e, info, `${path}.extension[${i}]`, scope, depth + 1)).filter((v) => v !== undefined)
  return kept.length > 0 ? { extension: kept } : undefined
}

function walkValue(value: unknown, info: PropertyInfo, path: string, scope: Scope, depth: number): unknown {
  const elementPath = info.element.path
  const dropped = DROPPED_ELEMENTS.get(elementPath)
  if (dropped) return remove(scope, path, dropped)
  const type = info.type
  if (value === null || value === undefined) return undefined

  switch (type) {
    case 'boolean':
    case 'integer':
    case 'decimal':
    case 'positiveInt':
    case 'unsignedInt':
    case 'code':
    case 'time':
      return value
    case 'date':
    case 'dateTime':
      return yearOnly(value, path, scope)
    case 'instant':
      // An instant must be a full timestamp, so it cannot keep its year alone.
      return remove(scope, path, 'date')
    case 'string':
    case 'markdown':
      return keptText(value, elementPath, path, scope)
    case 'uri':
    case 'url':
    case 'canonical':
      return KEPT_URI.has(elementPath) || (scope.allowedExtension && elementPath === 'Extension.value[x]')
        ? value
        : remove(scope, path, 'url')
    case 'id':
    case 'oid':
    case 'uuid':
    case 'base64Binary':
      if (PSEUDONYMISED_UIDS.has(elementPath) && typeof value === 'string') {
        remove(scope, path, 'other-id')
        return scope.ctx.pseudonymousUid(value)
      }
      return remove(scope, path, 'other-id')
    case 'xhtml':
      return remove(scope, path, 'free-text')
    case 'Resource':
      return typeof value === 'object' ? walkNestedResource(value as Json, path, scope, depth) : undefined
  }
  if (typeof value !== 'object' || Array.isArray(value)) return remove(scope, path, 'other-id')
  const v = value as Json
  switch (type) {
    case 'HumanName':
      return remove(scope, path, 'name')
    case 'ContactPoint':
      return remove(scope, path, contactPointKind(v))
    case 'Identifier':
      return remove(scope, path, identifierKind(v))
    case 'Annotation':
    case 'Narrative':
      return remove(scope, path, 'free-text')
    case 'Signature':
      return remove(scope, path, 'biometric')
    case 'Meta':
      return walkMeta(v, path, scope, depth)
    case 'Address':
      return walkAddress(v, path, scope, depth)
    case 'Attachment':
      return walkAttachment(v, path, scope, depth)
    case 'Reference':
      return walkReference(v, info, path, scope, depth)
    case 'Extension':
      return walkExtension(v, path, scope, depth)
    case 'Age':
    case 'Quantity':
      return walkComplex(groupAge(v, path, scope), type, path, scope, depth)
  }
  return walkComplex(v, type, path, scope, depth)
}

function walkNestedResource(value: Json, path: string, scope: Scope, depth: number): Json | undefined {
  // Outside `contained` (Parameters, a Bundle inside a resource): no study id is known, so none is given.
  return walkResource(value, path, scope, undefined, depth + 1) as Json | undefined
}

function yearOnly(value: unknown, path: string, scope: Scope): string | undefined {
  if (typeof value !== 'string') return remove(scope, path, 'date')
  const year = /^\d{4}/.exec(value)?.[0]
  if (!year) return remove(scope, path, 'date')
  if (year !== value) remove(scope, path, 'date')
  return year
}

function keptText(value: unknown, elementPath: string, path: string, scope: Scope): string | undefined {
  const keep = KEPT_TEXT.has(elementPath) && (elementPath !== 'Extension.value[x]' || scope.allowedExtension)
  if (!keep || typeof value !== 'string') return remove(scope, path, TEXT_KINDS.get(elementPath) ?? 'free-text')
  const kind = findIdentifierPattern(value) ?? scope.ctx.known.find(value)
  return kind ? remove(scope, path, kind) : value
}

/** Meta keeps its security labels only: versions, sources, tags and profiles (a US Core claim no longer holds without names) go. */
function walkMeta(meta: Json, path: string, scope: Scope, depth: number): Json | undefined {
  for (const key of Object.keys(meta)) {
    if (key !== 'security') remove(scope, `${path}.${propertiesOf('Meta')?.has(key) ? key : '<unknown element>'}`, 'other-id')
  }
  if (!Array.isArray(meta['security'])) return undefined
  return walkComplex({ security: meta['security'] }, 'Meta', path, scope, depth)
}

/** An address keeps its state, country, use, type, period years and, for a US ZIP, the Safe Harbor ZIP3. */
function walkAddress(address: Json, path: string, scope: Scope, depth: number): Json | undefined {
  const out: Json = {}
  const country = typeof address['country'] === 'string' ? address['country'] : undefined
  for (const [key, value] of Object.entries(address)) {
    if (key === 'use' || key === 'type' || key === 'state' || key === 'country') {
      if (typeof value === 'string') {
        const kind = scope.ctx.known.find(value) && key !== 'state' && key !== 'country' ? 'geographic' : undefined
        if (kind) remove(scope, `${path}.${key}`, kind)
        else out[key] = value
      }
    } else if (key === 'postalCode' && typeof value === 'string') {
      const zip3 = safeZip3(value, country)
      remove(scope, `${path}.postalCode`, 'geographic')
      if (zip3) out['postalCode'] = zip3
    } else if (key === 'period' && typeof value === 'object' && value !== null) {
      const period = walkComplex(value as Json, 'Period', `${path}.period`, scope, depth + 1)
      if (period) out['period'] = period
    } else {
      remove(
        scope,
        `${path}.${key === 'line' || key === 'city' || key === 'district' || key === 'text' || key === 'extension' ? key : '<unknown element>'}`,
        'geographic',
      )
    }
  }
  return Object.keys(out).length > 0 ? out : undefined
}

/** An attachment keeps what it is (content type, language, size) and the year it was made; its data, URL, title and hash go. */
function walkAttachment(attachment: Json, path: string, scope: Scope, depth: number): Json | undefined {
  const contentType = typeof attachment['contentType'] === 'string' ? attachment['contentType'] : ''
  const out: Json = {}
  for (const [key, value] of Object.entries(attachment)) {
    if (key === 'contentType' || key === 'language' || key === 'size') out[key] = value
    else if (key === 'creation') {
      const year = yearOnly(value, `${path}.creation`, scope)
      if (year) out['creation'] = year
    } else if (key === 'data') remove(scope, `${path}.data`, contentType.startsWith('image/') ? 'photo' : 'free-text')
    else if (key === 'url') remove(scope, `${path}.url`, 'url')
    else if (key === 'title') remove(scope, `${path}.title`, 'free-text')
    else if (key === 'extension') {
      const kept = walkComplex({ extension: value }, 'Attachment', path, scope, depth)
      if (kept) out['extension'] = kept['extension']
    } else remove(scope, `${path}.${key === 'hash' ? 'hash' : '<unknown element>'}`, 'other-id')
  }
  return Object.keys(out).length > 0 ? out : undefined
}

/** A reference is rewritten to the study id of its target, or removed when the target is not in the copy; its display and identifier go. */
function walkReference(reference: Json, info: PropertyInfo, path: string, scope: Scope, depth: number): Json | undefined {
  const out: Json = {}
  const target = reference['reference']
  let targetType = typeof reference['type'] === 'string' ? reference['type'] : undefined
  if (typeof target === 'string') {
    const rewritten = target.startsWith('#') ? mapContained(target, scope) : scope.ctx.references.resolve(target)
    if (rewritten) out['reference'] = rewritten
    else {
      remove(scope, `${path}.reference`, 'other-id')
      // A conditional or external reference still says what it pointed at.
      targetType ??= /^([A-Z][A-Za-z]+)[/?]/.exec(target)?.[1]
    }
  }
  if (targetType) out['type'] = targetType
  if (reference['display'] !== undefined) {
    const person = /Patient|Practitioner|RelatedPerson|Person|Organization/.test(targetType ?? info.targetProfiles.join(' '))
    remove(scope, `${path}.display`, person ? 'name' : 'free-text')
  }
  if (reference['identifier'] !== undefined) remove(scope, `${path}.identifier`, identifierKind(reference['identifier'] as Json))
  if (Array.isArray(reference['extension'])) {
    const kept = walkComplex({ extension: reference['extension'] }, 'Reference', path, scope, depth)
    if (kept) out['extension'] = kept['extension']
  }
  return Object.keys(out).length > 0 ? out : undefined
}

function mapContained(target: string, scope: Scope): string | undefined {
  if (target === '#') return '#'
  const id = scope.contained.get(target)
  return id ? `#${id}` : undefined
}

function walkExtension(extension: Json, path: string, scope: Scope, depth: number): Json | undefined {
  const url = extension['url']
  const allowed = scope.allowedExtension || (typeof url === 'string' && ALLOWED_EXTENSIONS.has(url))
  if (!allowed) return remove(scope, path, extensionKind(url))
  const inner: Scope = { ...scope, allowedExtension: true }
  const out = walkComplex(extension, 'Extension', path, inner, depth, new Set(['url']))
  // An extension's url is its name (a nested one's is relative, "ombCategory"): it is kept as is.
  return out && typeof url === 'string' ? { url, ...out } : undefined
}

/** An age (or a quantity in years) over 89 becomes ">= 90 years". */
function groupAge(quantity: Json, path: string, scope: Scope): Json {
  const value = quantity['value']
  if (typeof value !== 'number') return quantity
  const code = typeof quantity['code'] === 'string' ? quantity['code'] : undefined
  const unit = typeof quantity['unit'] === 'string' ? quantity['unit'] : undefined
  const years = code === 'a' || (code === undefined && unit !== undefined && /^(a|yr|yrs|year|years)$/i.test(unit))
  if (!years || value <= 89) return quantity
  remove(scope, `${path}.value`, 'age')
  return { ...quantity, value: 90, comparator: '>=' }
}
