import type { SqlRow, SqlValue } from './driver.js'

/** Unix seconds of a date (rounded down). */
export const seconds = (date: Date): bigint => BigInt(Math.floor(date.getTime() / 1000))

/** An integer column as bigint, whichever form the driver returned it in. */
export function big(value: unknown): bigint {
  if (typeof value === 'bigint') return value
  if (typeof value === 'number' || typeof value === 'string') return BigInt(value)
  throw new TypeError(`Expected an integer column, got ${typeof value}.`)
}

export const optionalBig = (value: unknown): bigint | undefined => (value === null || value === undefined ? undefined : big(value))

export const num = (value: unknown): number => Number(big(value))

export const dateOf = (secondsValue: unknown): Date => new Date(num(secondsValue) * 1000)

export const optionalDate = (secondsValue: unknown): Date | undefined =>
  secondsValue === null || secondsValue === undefined ? undefined : dateOf(secondsValue)

/** A row as JSON for the undo log: bigints as decimal strings (integer columns take them back as they are). */
export const rowToJson = (row: SqlRow): string => JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))

export const rowFromJson = (json: string): Record<string, SqlValue> => JSON.parse(json) as Record<string, SqlValue>

/** The smallest or largest of some bigints (Math.min and Math.max take numbers only). */
export function minBig(first: bigint, ...rest: bigint[]): bigint {
  let min = first
  for (const v of rest) if (v < min) min = v
  return min
}

export function maxBig(first: bigint, ...rest: bigint[]): bigint {
  let max = first
  for (const v of rest) if (v > max) max = v
  return max
}
