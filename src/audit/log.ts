/**
 * The append-only, hash-chained, signed access log: `openAuditLog({ dir, signer })`, then
 * `append()` one entry per access attempt. Each burst of appends is signed once (see entry.ts).
 * Appends take the directory's lock, re-read the last line under it and check that line's hash and
 * signature before chaining onto it, so concurrent writers (in this process or others) never
 * interleave or fork the chain, and nobody can slip a forged tail under it.
 */
import { randomBytes } from 'node:crypto'
import type { Address, Hex } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { InvalidInputError } from '../errors.js'
import {
  type AuditEntry,
  type AuditEntryBody,
  type AuditEvent,
  AUDIT_BURST_MAX,
  GENESIS_PREV,
  auditEntryLine,
  hashAuditEntry,
  isAuditEntrySignedBy,
  normalizeAuditEvent,
  parseAuditLine,
  signAuditBurst,
} from './entry.js'
import { AuditLogError } from './errors.js'
import { appendToLog, auditPaths, ensureAuditDir, readLastLine, withLock } from './files.js'
import { readAuditLog } from './query.js'

export type OpenAuditLogParameters = {
  /** The log's directory (created 0700 if missing). One directory holds one signer's log. */
  dir: string
  /** The node's audit key. Its address identifies the log on chain; it pays for anchoring. */
  signer: LocalAccount
  /** fdatasync after every append (default true): an access is logged once append() resolves. */
  sync?: boolean
}

/** Where a log is and whose it is: enough to read, query and prove entries. */
export type AuditLogSource = { dir: string; address: Address }

export type AuditLog = AuditLogSource & {
  signer: LocalAccount
  /** Appends one signed entry and returns it. Resolves once it is on disk. */
  append(event: AuditEvent): Promise<AuditEntry>
  /** Every entry, in order (throws AuditLogError on a damaged line; use verifyAuditLog to diagnose). */
  entries(): Promise<AuditEntry[]>
  /** The newest entry, or undefined for an empty log. */
  last(): Promise<AuditEntry | undefined>
}

/** The salt of a version 2 entry (see entry.ts): lower-case hex, as the line format wants. */
const newEntrySalt = (): Hex => `0x${randomBytes(32).toString('hex')}`

const APPEND_LOCK = { staleMs: 10_000, waitMs: 30_000, what: 'append' } as const

/**
 * Opens (or creates) the audit log in `dir`. Refuses a log whose newest entry is not intact or was
 * signed by another key.
 *
 * @example
 * const log = await openAuditLog({ dir: join(home, 'audit'), signer: auditAccount })
 * await log.append({ actor, action: 'read', tokenId: 7n, patient, outcome: 'denied', reason: 'ACCESS_DENIED' })
 */
export async function openAuditLog(params: OpenAuditLogParameters): Promise<AuditLog> {
  const paths = auditPaths(params.dir)
  const { signer } = params
  const sync = params.sync ?? true
  ensureAuditDir(paths.dir)

  /** The last line this handle wrote or checked, so an unchanged tail is not checked again. */
  let checked: { text: string; entry: AuditEntry } | undefined

  /** The newest entry, checked: well-formed, hash recomputes, signed by this log's key. */
  async function tail(): Promise<AuditEntry | undefined> {
    const { text, torn } = await readLastLine(paths.log)
    if (torn) {
      throw new AuditLogError('The audit log ends with an incomplete line (a crash during a write, or tampering).', {
        hint: `Run verifyAuditLog on ${paths.dir} and have an operator inspect the last line before logging resumes.`,
      })
    }
    if (text === undefined) return undefined
    if (checked?.text === text) return { ...checked.entry }
    const parsed = parseAuditLine(text)
    if (!parsed.ok) throw new AuditLogError(`The newest audit log entry is damaged: ${parsed.error}.`, { hint: 'Run verifyAuditLog.' })
    const last = parsed.entry
    if (hashAuditEntry(last) !== last.hash) {
      throw new AuditLogError(`Audit log entry ${last.seq} was changed after it was written.`, { hint: 'Run verifyAuditLog.' })
    }
    if (!(await isAuditEntrySignedBy(last, signer.address))) {
      throw new AuditLogError(`Audit log entry ${last.seq} is not signed by this log's key ${signer.address}.`, {
        hint: 'Open the log with the key that writes it; each key keeps its own log directory.',
      })
    }
    checked = { text, entry: { ...last } }
    return last
  }

  await tail()

  /*
   * Group commit: appends that arrive while a write is in progress wait for the next one, which
   * takes them all under one lock, chains them in arrival order, signs each run of up to
   * AUDIT_BURST_MAX of them with one signature, and writes them with one append and one fsync.
   * Each caller still resolves only once its entry is on disk.
   */
  type Pending = {
    fields: Omit<AuditEntryBody, 'seq' | 'at' | 'prev'>
    resolve: (entry: AuditEntry) => void
    reject: (error: unknown) => void
  }
  let queue: Pending[] = []
  let flushing: Promise<void> | undefined

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const group = queue
      queue = []
      try {
        const entries = await withLock(paths.appendLockTarget, APPEND_LOCK, async (assertHeld) => {
          const last = await tail()
          let seq = last ? last.seq + 1 : 0
          let prev = last ? last.hash : GENESIS_PREV
          const written: AuditEntry[] = []
          for (let start = 0; start < group.length; start += AUDIT_BURST_MAX) {
            const bodies: AuditEntryBody[] = []
            const hashes: Hex[] = []
            for (const { fields } of group.slice(start, start + AUDIT_BURST_MAX)) {
              const body = { seq: seq++, at: new Date().toISOString(), ...fields, salt: newEntrySalt(), prev }
              prev = hashAuditEntry(body)
              bodies.push(body)
              hashes.push(prev)
            }
            written.push(...(await signAuditBurst(signer, bodies, hashes)))
          }
          const lines = written.map(auditEntryLine)
          assertHeld()
          await appendToLog(paths.log, `${lines.join('\n')}\n`, sync)
          checked = { text: lines.at(-1)!, entry: { ...written.at(-1)! } }
          return written
        })
        for (const [i, p] of group.entries()) p.resolve(entries[i]!)
      } catch (error) {
        for (const p of group) p.reject(error)
      }
    }
    flushing = undefined
  }

  return {
    dir: paths.dir,
    address: signer.address,
    signer,

    async append(event) {
      const normalized = normalizeAuditEvent(event)
      if (!normalized.ok) throw new InvalidInputError(`The audit event is invalid: ${normalized.error}.`)
      return new Promise<AuditEntry>((resolve, reject) => {
        queue.push({ fields: normalized.fields, resolve, reject })
        if (!flushing) flushing = flush()
      })
    },

    entries: () => readAuditLog(paths.dir),
    last: tail,
  }
}
