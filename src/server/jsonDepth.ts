import type { MiddlewareHandler } from 'hono'
import { HttpError } from './outcomes.js'

/**
 * How deep a JSON body may nest. FHIR resources nest a dozen levels, a transaction Bundle a few
 * more; 100 leaves room for any real one. V8's JSON.parse copes with 100,000 levels, but every
 * recursive walk after it (schema validation, canonical JSON, serialising a reply) would overflow
 * the stack, so a deeper body is refused before anything parses it.
 */
export const MAX_JSON_DEPTH = 100

/** The deepest nesting of arrays and objects in JSON text, stopping as soon as it passes `limit`. */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      depth++
      if (depth > max) {
        max = depth
        if (max > limit) return max
      }
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return max
}

/** Refuses (400) a JSON body nested deeper than `max`, before any route parses it. */
export function jsonDepthLimit(max = MAX_JSON_DEPTH): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header('content-type') ?? ''
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && /json/i.test(type)) {
      // Read once here; hono hands routes the same text from its cache.
      if (jsonDepth(await c.req.text(), max) > max) {
        throw new HttpError(400, 'structure', `The JSON body nests deeper than ${max} levels, which no medvault request does.`)
      }
    }
    await next()
  }
}
