/**
 * Grant terms and what a grant's tags mean, without I/O: shared by the node (consent/grants.ts)
 * and the web portal, which computes and maps tags in the browser.
 */
import type { Address, Hex } from 'viem'
import { CATEGORIES, type Category, requiredSensitivity } from '../core/index.js'
import { type CategoryTag, type TagTable, classOf, tagsForCategories } from '../core/index.js'
import { InvalidInputError } from '../errors.js'

/** Most tags one grant may list (ConsentRegistry.MAX_TAGS): each is a storage slot, about 22k gas. */
export const MAX_GRANT_TAGS = 256

export const PURPOSES = ['treatment', 'payment', 'research', 'emergency', 'other'] as const
export type Purpose = (typeof PURPOSES)[number]
export const SCOPES = ['records', 'categories', 'all'] as const
export type Scope = (typeof SCOPES)[number]

/**
 * A grant's terms as ConsentRegistry's `Grant` struct: what `grant` takes, and what every call
 * about a grant passes back for the contract to check against the hash it keeps.
 */
export type GrantStruct = {
  patient: Address
  grantee: Address
  expiresAt: number
  scope: number
  purpose: number
  tokenIds: readonly bigint[]
  tags: readonly Hex[]
}

/** The struct of a grant's terms (whole seconds: what the chain keeps). */
export function grantStruct(g: {
  patient: Address
  grantee: Address
  expiresAt: Date
  scope: Scope
  purpose: Purpose
  tokenIds: readonly bigint[]
  tags: readonly Hex[]
}): GrantStruct {
  return {
    patient: g.patient,
    grantee: g.grantee,
    expiresAt: Math.floor(g.expiresAt.getTime() / 1000),
    scope: SCOPES.indexOf(g.scope),
    purpose: PURPOSES.indexOf(g.purpose),
    tokenIds: g.tokenIds,
    tags: g.tags,
  }
}

/**
 * What a patient shares, in their words: categories and sensitivity flags. On chain a grant names
 * the patient's blinded tags instead (core/categoryTags.ts); {@link grantTags} turns one into the other.
 */
export type GrantTerms =
  | { scope: 'records'; tokenIds: bigint[] }
  | { scope: 'categories'; categories: Category[]; sensitive?: number }
  | { scope: 'all'; sensitive?: number }

/**
 * What a grant's tags stand for, as `table` maps them (undefined: the viewer has no table of the
 * patient's tags): the categories of a category grant, and the flags beyond each category's own.
 */
export function grantClasses(
  grant: { scope: Scope; tags: readonly Hex[] },
  table: TagTable | undefined,
): { categories: Category[] | undefined; sensitive: number; unknownTags: CategoryTag[] } {
  if (grant.scope === 'records') return { categories: undefined, sensitive: 0, unknownTags: [] }
  const classes = grant.tags.map((t) => (table ? classOf(table, t) : undefined))
  const known = classes.filter((c) => c !== undefined)
  const sensitive = known.reduce(
    (mask, c) => mask | (c.sensitivity & ~(grant.scope === 'categories' ? requiredSensitivity(c.category) : 0)),
    0,
  )
  const named = new Set(known.map((c) => c.category))
  return {
    categories: grant.scope === 'categories' && known.length > 0 ? CATEGORIES.filter((c) => named.has(c)) : undefined,
    sensitive,
    unknownTags: grant.tags.filter((_, i) => classes[i] === undefined).map((t) => t.toLowerCase() as CategoryTag),
  }
}

/**
 * The classes of `table` that a reader's grants give it (only the active ones count): every class of
 * a category grant's categories, the open classes and the listed ones of an "all" grant; and the
 * open classes for a delegate. Pure, so the web portal seals the same table as a node.
 */
export function owedEntries(
  table: TagTable,
  grants: readonly { scope: Scope; tags: readonly Hex[]; active: boolean }[],
  options: { delegate: boolean },
): TagTable {
  const categories = new Set<Category>()
  const listed = new Set<string>()
  let open = options.delegate
  for (const g of grants) {
    if (!g.active || g.scope === 'records') continue
    if (g.scope === 'all') open = true
    for (const tag of g.tags) {
      const cls = classOf(table, tag)
      if (!cls) continue
      if (g.scope === 'categories') categories.add(cls.category)
      else listed.add(tag.toLowerCase())
    }
  }
  return table.filter((e) => categories.has(e.category) || listed.has(e.tag) || (open && e.sensitivity === 0))
}

/**
 * The tags of `table` a grant with these terms lists on chain: the categories' classes (with the
 * named sensitivity flags) for a category grant; for "all", the sensitive classes whose flags are
 * all named (the contract covers the open ones itself); none for records.
 */
export function tagsForTerms(table: TagTable, terms: GrantTerms): CategoryTag[] {
  if (terms.scope === 'records') return []
  const sensitive = terms.sensitive ?? 0
  const tags =
    terms.scope === 'categories'
      ? tagsForCategories(table, terms.categories, sensitive)
      : sensitive === 0
        ? []
        : table.filter((e) => e.sensitivity !== 0 && (e.sensitivity & ~sensitive) === 0).map((e) => e.tag)
  // Every combination of the named flags is a class of its own, so naming many flags multiplies
  // the tags: refused here with a way out, instead of a bare revert from the contract.
  if (tags.length > MAX_GRANT_TAGS) {
    throw new InvalidInputError(`This grant would list ${tags.length} category tags; one grant may list at most ${MAX_GRANT_TAGS}.`, {
      hint: 'Name fewer sensitivity flags, or share the sensitive categories you mean by name in a grant of their own.',
    })
  }
  return tags
}
