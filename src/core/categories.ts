import { InvalidInputError } from '../errors.js'

/** Coarse record categories, in code order (the codes index tag tables and research study masks; the chain holds only blinded tags). */
export const CATEGORIES = [
  'laboratory',
  'imaging',
  'immunization',
  'medication',
  'clinical-note',
  'mental-health',
  'substance-use',
  'sexual-health',
  'genetic',
  'other',
  // Appended (codes 10-16): codes never change meaning (tag tables and study masks store them).
  'vital-signs',
  'condition',
  'procedure',
  'encounter',
  'care-plan',
  'billing',
  'allergy',
] as const

export type Category = (typeof CATEGORIES)[number]

/** Sensitivity flag bits: part of a record's class, so of its tag (categoryTags.ts); never on chain in clear. */
export const Sensitivity = {
  mentalHealth: 1,
  substanceUse: 2,
  sexualHealth: 4,
  genetic: 8,
  restricted: 16,
} as const

export type SensitivityName = keyof typeof Sensitivity

/** The categories whose records are never shared by "category" or "all" grants unless named one by one. */
export const SENSITIVE_CATEGORIES: Partial<Record<Category, number>> = {
  'mental-health': Sensitivity.mentalHealth,
  'substance-use': Sensitivity.substanceUse,
  'sexual-health': Sensitivity.sexualHealth,
  genetic: Sensitivity.genetic,
}

export function categoryCode(category: Category): number {
  return CATEGORIES.indexOf(category)
}

export function categoryName(code: number): Category {
  const name = CATEGORIES[code]
  if (!name) throw new InvalidInputError(`Unknown category code ${code}.`)
  return name
}

export function parseCategory(value: string): Category {
  if ((CATEGORIES as readonly string[]).includes(value)) return value as Category
  throw new InvalidInputError(`Unknown category "${value}".`, { hint: `Use one of: ${CATEGORIES.join(', ')}.` })
}

/** The flags a record of `category` must carry at least. */
export function requiredSensitivity(category: Category): number {
  return SENSITIVE_CATEGORIES[category] ?? 0
}

export function sensitivityNames(flags: number): SensitivityName[] {
  return (Object.keys(Sensitivity) as SensitivityName[]).filter((name) => (flags & Sensitivity[name]) !== 0)
}
