/**
 * A token bucket per key (account, or client address before sign-in). In memory: a limit per
 * server, which behind a load balancer of N servers allows up to N times as much; a shared limit
 * belongs in the load balancer. (hono has no rate limiter of its own; this is small enough to own.)
 */
export interface RateLimiter {
  /** Takes one token; returns the seconds to wait when there is none. */
  take(key: string, now?: number): { ok: true } | { ok: false; retryAfterSeconds: number }
}

export function createRateLimiter(perMinute: number): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>()
  const ratePerMs = perMinute / 60_000
  let sweptAt = 0
  return {
    take(key, now = Date.now()) {
      if (now - sweptAt > 60_000) {
        // Full buckets carry no information; dropping them bounds memory by recent clients.
        for (const [k, b] of buckets) if (b.tokens + (now - b.at) * ratePerMs >= perMinute) buckets.delete(k)
        sweptAt = now
      }
      const b = buckets.get(key) ?? { tokens: perMinute, at: now }
      b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * ratePerMs)
      b.at = now
      buckets.set(key, b)
      if (b.tokens < 1) return { ok: false, retryAfterSeconds: Math.ceil((1 - b.tokens) / ratePerMs / 1000) }
      b.tokens -= 1
      return { ok: true }
    },
  }
}
