/**
 * Every error the server returns is a FHIR OperationOutcome, on the REST API as on the FHIR facade,
 * and one function maps a failure to its HTTP status and FHIR issue code.
 * See https://hl7.org/fhir/R4/operationoutcome.html and https://hl7.org/fhir/R4/http.html#ops
 */
import { BaseError } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import type { OperationOutcome } from '@medplum/fhirtypes'
import {
  AccessDeniedError,
  ChainError,
  HomeError,
  InvalidInputError,
  MedvaultError,
  NotFoundError,
  OperationJournalError,
  StorageError,
  TamperedRecordError,
} from '../errors.js'

/** The FHIR issue types the server uses (http://hl7.org/fhir/issue-type). */
export type IssueCode =
  | 'invalid'
  | 'structure'
  | 'login'
  | 'forbidden'
  | 'not-found'
  | 'deleted'
  | 'conflict'
  | 'too-costly'
  | 'throttled'
  | 'processing'
  | 'not-supported'
  | 'security'
  | 'exception'
  | 'transient'

/** An error that already knows its HTTP status; thrown by handlers and middleware. */
export class HttpError extends MedvaultError {
  override name = 'HttpError'
  readonly status: number
  readonly issue: IssueCode

  constructor(status: number, issue: IssueCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options)
    this.status = status
    this.issue = issue
  }
}

const BY_CODE: Record<string, [status: number, issue: IssueCode]> = {
  INVALID_INPUT: [422, 'invalid'],
  ACCESS_DENIED: [403, 'forbidden'],
  WRONG_KEY: [403, 'security'],
  TAMPERED: [422, 'processing'],
  UNTRUSTED_ISSUER: [422, 'security'],
  NOT_FOUND: [404, 'not-found'],
  ERASED: [410, 'deleted'],
  CHAIN: [409, 'conflict'],
  CHAIN_UNAVAILABLE: [503, 'transient'],
  STORAGE: [503, 'transient'],
  HOME: [503, 'transient'],
  // The same operation (same idempotency key) is running in another request or process: retry it later.
  OPERATION_JOURNAL: [409, 'conflict'],
}

/**
 * A subclass with a code of its own (`STORAGE_PEERS_UNREACHABLE`, `MALFORMED_BUNDLE` ...) answers
 * like its family: an IPFS peer down is a 503 like any storage fault, not a 500.
 */
const BY_FAMILY: [family: abstract new (...args: never[]) => MedvaultError, status: number, issue: IssueCode][] = [
  [OperationJournalError, 409, 'conflict'],
  [StorageError, 503, 'transient'],
  [HomeError, 503, 'transient'],
  [InvalidInputError, 422, 'invalid'],
  [AccessDeniedError, 403, 'forbidden'],
  [NotFoundError, 404, 'not-found'],
  [TamperedRecordError, 422, 'processing'],
  [ChainError, 409, 'conflict'],
]

/** Seconds a client is told to wait (Retry-After) before retrying after a 503: a chain or storage that is down. */
export const RETRY_AFTER_SECONDS = 5

export function operationOutcome(
  issue: IssueCode,
  message: string,
  severity: 'error' | 'warning' | 'information' = 'error',
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code: issue, diagnostics: message }] }
}

/**
 * The status and outcome for any thrown value. Unknown errors become a 500 whose text says nothing
 * about the request (it may hold health data); the cause goes to the server's own error handler.
 */
export function toOutcome(thrown: unknown): { status: number; outcome: OperationOutcome } {
  if (thrown instanceof HttpError) return { status: thrown.status, outcome: operationOutcome(thrown.issue, thrown.message) }
  // A chain call that failed before any handler wrapped it: named (a chain down is 503, retry later).
  const error = thrown instanceof BaseError ? toMedvaultError(thrown) : thrown
  if (error instanceof MedvaultError) {
    const family = BY_FAMILY.find(([cls]) => error instanceof cls)
    const [status, issue] = BY_CODE[error.code] ?? (family ? [family[1], family[2]] : [500, 'exception'])
    return { status, outcome: operationOutcome(issue, error.message) }
  }
  return { status: 500, outcome: operationOutcome('exception', 'The server failed to handle this request. It has been logged; try again.') }
}
