import { InvalidInputError } from '../errors.js'

const UNITS: Record<string, number> = { m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 }

/** "30m", "12h", "7d", "2w", "1y" → seconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)([mhdwy])$/.exec(value.trim())
  const seconds = match ? Number(match[1]) * UNITS[match[2]!]! : Number.NaN
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidInputError(`"${value}" is not a duration.`, { hint: 'Use a number and a unit: 30m, 12h, 7d, 2w or 1y.' })
  }
  return seconds
}
