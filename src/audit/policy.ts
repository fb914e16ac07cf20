/** When to anchor: a full batch, or pending entries older than the interval. Pure, for a timer to call. */

export type AnchorState = {
  /** Entries written but not anchored yet. */
  pending: number
  /** Time of the oldest pending entry (its `at`). */
  oldestPendingAt?: Date | string | undefined
}

export type AnchorPolicy = {
  /** Anchor as soon as this many entries are pending. */
  batchSize: number
  /** Anchor when the oldest pending entry is at least this old, however few are pending. */
  intervalSeconds: number
}

/**
 * Whether to anchor now.
 *
 * @example
 * if (shouldAnchor(await anchorStatus(ctx, log), { batchSize: 256, intervalSeconds: 600 })) await anchorPending(ctx, log)
 */
export function shouldAnchor(state: AnchorState, policy: AnchorPolicy, now: Date = new Date()): boolean {
  if (state.pending <= 0) return false
  if (state.pending >= policy.batchSize) return true
  if (state.oldestPendingAt === undefined) return false
  const oldest = typeof state.oldestPendingAt === 'string' ? Date.parse(state.oldestPendingAt) : state.oldestPendingAt.getTime()
  if (Number.isNaN(oldest)) return true
  return now.getTime() - oldest >= policy.intervalSeconds * 1000
}
