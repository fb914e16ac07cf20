/**
 * One error base, a class per failure. Messages say what went wrong and what to do; they never
 * carry patient data, keys or passphrases.
 */
export type MedvaultErrorOptions = {
  cause?: unknown
  details?: string
  /** What the person should do next, appended to the message. */
  hint?: string
}

export class MedvaultError extends Error {
  override name = 'MedvaultError'
  /** A stable machine-readable code, e.g. `ACCESS_DENIED`. */
  readonly code: string = 'MEDVAULT_ERROR'
  readonly shortMessage: string
  readonly details: string | undefined
  readonly hint: string | undefined
  /** Process exit code the CLI uses for this failure. */
  readonly exitCode: number = 1

  constructor(shortMessage: string, options: MedvaultErrorOptions = {}) {
    super([shortMessage, options.hint].filter(Boolean).join(' '), { cause: options.cause })
    this.shortMessage = shortMessage
    this.details = options.details
    this.hint = options.hint
  }
}

function defineError(name: string, code: string, exitCode: number) {
  return class extends MedvaultError {
    override name = name
    override readonly code = code
    override readonly exitCode = exitCode
  }
}

/** Input that cannot be used as given: malformed FHIR, a bad flag, an unknown category. */
export class InvalidInputError extends defineError('InvalidInputError', 'INVALID_INPUT', 2) {}
/** The caller may not read or change this record. */
export class AccessDeniedError extends defineError('AccessDeniedError', 'ACCESS_DENIED', 3) {}
/** The ciphertext, its address, the commitment or a signature does not check out. */
export class TamperedRecordError extends defineError('TamperedRecordError', 'TAMPERED', 4) {}
/** The issuer is unknown to the registry, or was not allowed to issue. */
export class UntrustedIssuerError extends defineError('UntrustedIssuerError', 'UNTRUSTED_ISSUER', 4) {}
/** A key could not open a record or keystore (wrong passphrase, wrong account). */
export class WrongKeyError extends defineError('WrongKeyError', 'WRONG_KEY', 3) {}
/** Something named does not exist: an account, a token, a blob. */
export class NotFoundError extends defineError('NotFoundError', 'NOT_FOUND', 5) {}
/** The chain refused a transaction; `details` has the contract's reason. */
export class ChainError extends defineError('ChainError', 'CHAIN', 6) {}
/** The chain did not answer (stopped, unreachable, too slow): nothing was changed; try again once it is back. */
export class ChainUnavailableError extends ChainError {
  override name = 'ChainUnavailableError'
  override readonly code = 'CHAIN_UNAVAILABLE'
}
/** The blob store failed to store or return content. */
export class StorageError extends defineError('StorageError', 'STORAGE', 7) {}
/** The home is missing, misconfigured or locked by another process. */
export class HomeError extends defineError('HomeError', 'HOME', 8) {}

/**
 * The reader does not know the patient's category tags (issue 22): the patient never shared their
 * tag table with this account, so it can neither issue a record of that category nor tell which of
 * the patient's records are of it.
 */
export class MissingTagsError extends AccessDeniedError {
  override name = 'MissingTagsError'
  override readonly code = 'NO_TAG_TABLE'
}
/** A bundle given to `medvault import` that cannot be imported: not a Bundle, the wrong type, invalid entries, several patients. */
export class MalformedBundleError extends InvalidInputError {
  override name = 'MalformedBundleError'
  override readonly code = 'MALFORMED_BUNDLE'
}
/**
 * The account is not an active registered provider, so it may not issue records or anchor an
 * archive: a refusal of the caller (exit 3), not a record that fails its checks (UntrustedIssuerError, exit 4).
 */
export class NotAProviderError extends AccessDeniedError {
  override name = 'NotAProviderError'
  override readonly code = 'NOT_A_PROVIDER'
}
/** The patient has not authorised this provider to issue records without a signature each time (or the authorisation ended). */
export class StandingAuthorizationError extends AccessDeniedError {
  override name = 'StandingAuthorizationError'
  override readonly code = 'NO_STANDING_AUTHORIZATION'
}
/**
 * The record was erased by its patient (GDPR art. 17): its key was destroyed and its ciphertext
 * deleted, so nobody can read it any more, the patient included. The token stays on chain.
 */
export class RecordErasedError extends NotFoundError {
  override name = 'RecordErasedError'
  override readonly code = 'ERASED'
}
/** An import journal is damaged, belongs to another import, or is held by another running import. */
export class ImportJournalError extends HomeError {
  override name = 'ImportJournalError'
  override readonly code = 'IMPORT_JOURNAL'
}
/** None of the IPFS peers the storage config names could be reached, so content this node lacks cannot be fetched. */
export class StoragePeersUnreachableError extends StorageError {
  override name = 'StoragePeersUnreachableError'
  override readonly code = 'STORAGE_PEERS_UNREACHABLE'
}

/** A single operation's journal (record add, amend, grant) is damaged, or the same operation is running in another process. */
export class OperationJournalError extends HomeError {
  override name = 'OperationJournalError'
  override readonly code = 'OPERATION_JOURNAL'
}
