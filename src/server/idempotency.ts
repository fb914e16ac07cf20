/**
 * The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header) on the server's
 * writes. The write itself is idempotent by content (src/operations: the same document for the
 * same patient from the same provider is one record, journaled under a key over what it asks for),
 * so a retry with the same key finishes or returns the first request's record. What the header
 * adds is a check of the client: the same key sent with a different request is a client bug (it
 * believes it is retrying, but would create something else), refused with 422 as the draft says.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Address } from 'viem'
import { HttpError } from './outcomes.js'

const KEY = /^[\x21-\x7e]{1,255}$/

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * Checks an `Idempotency-Key` against the request it was first sent with (kept in
 * `<operations>/http-<sha256(caller, key)>.json`: a digest of the request, no content), and
 * remembers it the first time. Without a header it does nothing.
 */
export function checkIdempotencyKey(operationsDir: string, caller: Address, header: string | undefined, request: unknown): void {
  if (header === undefined) return
  // A structured-field string ("…") or a bare token.
  const key = header.trim().replace(/^"(.*)"$/, '$1')
  if (!KEY.test(key)) {
    throw new HttpError(400, 'invalid', 'The Idempotency-Key header must be 1 to 255 visible ASCII characters.', {
      hint: 'Use a fresh random value (a UUID) per operation, and the same one when retrying it.',
    })
  }
  const digest = sha256(JSON.stringify(request))
  const file = join(operationsDir, `http-${sha256(`${caller.toLowerCase()}\n${key}`)}.json`)
  mkdirSync(operationsDir, { recursive: true, mode: 0o700 })
  try {
    writeFileSync(file, `${JSON.stringify({ request: digest, at: new Date().toISOString() })}\n`, { flag: 'wx', mode: 0o600 })
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  let first: string | undefined
  try {
    first = (JSON.parse(readFileSync(file, 'utf8')) as { request?: string }).request
  } catch {
    // torn by a crash while it was written: take this request as the first
    writeFileSync(file, `${JSON.stringify({ request: digest, at: new Date().toISOString() })}\n`, { mode: 0o600 })
    return
  }
  if (first !== digest) {
    throw new HttpError(422, 'invalid', 'This Idempotency-Key was already used for a different request.', {
      hint: 'Send a retry with exactly the same body; use a new key for a new operation.',
    })
  }
}
