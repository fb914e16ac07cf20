/**
 * Reading the log and filtering it, for `medvault audit --patient P | --record T`. These read
 * without verifying; run verifyAuditLog to know the entries are genuine.
 */
import { type Address, getAddress, isAddress } from 'viem'
import { InvalidInputError } from '../errors.js'
import { type AuditAction, type AuditEntry, type AuditOutcome, parseAuditLine } from './entry.js'
import { AuditLogError } from './errors.js'
import { auditPaths, readLogLines } from './files.js'

/**
 * Every entry of the log in `dir`, in file order. An incomplete last line (an append in progress)
 * is left out; any other damaged line throws AuditLogError.
 */
export async function readAuditLog(dir: string): Promise<AuditEntry[]> {
  const { lines } = await readLogLines(auditPaths(dir).log)
  return lines.map(({ line, text }) => {
    const parsed = parseAuditLine(text)
    if (!parsed.ok) {
      throw new AuditLogError(`Line ${line} of the audit log is damaged: ${parsed.error}.`, {
        hint: 'Run verifyAuditLog to see what changed.',
      })
    }
    return parsed.entry
  })
}

export type AuditQuery = {
  /** Entries about this patient's records. */
  patient?: Address
  /** Entries about this record. */
  tokenId?: string | bigint
  actor?: Address
  action?: AuditAction
  outcome?: AuditOutcome
  /** Entries at or after this time. */
  since?: Date
  /** Entries before this time. */
  until?: Date
}

function address(value: string, what: string): string {
  if (!isAddress(value, { strict: false })) throw new InvalidInputError(`The ${what} to look for is not an address.`)
  return getAddress(value)
}

/** The entries matching every given criterion. */
export function filterAuditEntries(entries: readonly AuditEntry[], query: AuditQuery): AuditEntry[] {
  const patient = query.patient === undefined ? undefined : address(query.patient, 'patient')
  const actor = query.actor === undefined ? undefined : address(query.actor, 'actor')
  let tokenId: string | undefined
  if (query.tokenId !== undefined) {
    try {
      tokenId = BigInt(query.tokenId).toString()
    } catch {
      throw new InvalidInputError('The record to look for is not a token id.', { hint: 'Give the decimal token id, e.g. 7.' })
    }
  }
  const since = query.since?.getTime()
  const until = query.until?.getTime()
  return entries.filter(
    (e) =>
      (patient === undefined || e.patient === patient) &&
      (tokenId === undefined || e.tokenId === tokenId) &&
      (actor === undefined || e.actor === actor) &&
      (query.action === undefined || e.action === query.action) &&
      (query.outcome === undefined || e.outcome === query.outcome) &&
      (since === undefined || Date.parse(e.at) >= since) &&
      (until === undefined || Date.parse(e.at) < until),
  )
}

/** Reads the log in `dir` and returns the entries matching `query`, oldest first. */
export async function queryAuditLog(dir: string, query: AuditQuery): Promise<AuditEntry[]> {
  return filterAuditEntries(await readAuditLog(dir), query)
}
