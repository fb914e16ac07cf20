/**
 * The index stores each record's blinded tag, never its category (issue 22). A reader maps tags
 * back at read time with the tag table the patient shared with it; a tag it was not given stays
 * "unknown": never guessed.
 */
import { type Category, type CategoryTag, type TagTable, classOf } from '../core/index.js'
import type { IndexedRecord } from './types.js'

/** A record with its class as the viewer knows it. */
export type ClassifiedRecord = IndexedRecord & {
  /** The record's category, or "unknown" when the viewer's table does not map its tag. */
  category: Category | 'unknown'
  /** Its full sensitivity flags; undefined when unknown. */
  sensitivity: number | undefined
}

export function classifyRecord(record: IndexedRecord, table: TagTable | undefined): ClassifiedRecord {
  const cls = table ? classOf(table, record.tag) : undefined
  return { ...record, category: cls?.category ?? 'unknown', sensitivity: cls?.sensitivity }
}

export function classifyRecords(records: readonly IndexedRecord[], table: TagTable | undefined): ClassifiedRecord[] {
  return records.map((r) => classifyRecord(r, table))
}

/** Every tag of `category` in the viewer's table (all its sensitivity classes): what a category filter matches. */
export function tagsOfCategory(table: TagTable | undefined, category: Category): CategoryTag[] {
  return (table ?? []).filter((e) => e.category === category).map((e) => e.tag)
}
