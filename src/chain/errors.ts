import { BaseError, ContractFunctionRevertedError, HttpRequestError, TimeoutError } from 'viem'
import {
  AccessDeniedError,
  ChainError,
  ChainUnavailableError,
  InvalidInputError,
  MedvaultError,
  NotAProviderError,
  NotFoundError,
  RecordErasedError,
} from '../errors.js'

type Known = { make: (args: readonly unknown[]) => MedvaultError }

/** Custom errors of our contracts, as messages a person can act on. */
const KNOWN: Record<string, Known> = {
  MedicalRecordInactiveIssuer: {
    make: ([issuer]) =>
      new NotAProviderError(`${String(issuer)} is not an active provider in the registry, so it cannot issue records.`, {
        hint: 'Ask the registrar to register or reinstate it (`medvault provider register|reinstate`).',
      }),
  },
  MedicalRecordInvalidConsent: {
    make: () =>
      new AccessDeniedError('The patient has not consented to this record: the consent signature is missing, invalid or already used.', {
        hint: 'Have the patient sign a fresh consent, or authorise the provider (`medvault provider authorize`).',
      }),
  },
  MedicalRecordConsentExpired: {
    make: () => new AccessDeniedError("The patient's consent signature has expired.", { hint: 'Ask the patient to sign again.' }),
  },
  MedicalRecordInvalidRequest: {
    make: () => new InvalidInputError('The chain refused the record fields (category, sensitivity or content address).'),
  },
  MedicalRecordSoulbound: {
    make: () => new AccessDeniedError('Medical record tokens cannot be transferred or approved.'),
  },
  MedicalRecordAlreadyAmended: {
    make: ([tokenId, by]) =>
      new InvalidInputError(`Record #${String(tokenId)} was already amended by #${String(by)}.`, {
        hint: `Amend the newest version, #${String(by)}.`,
      }),
  },
  MedicalRecordPatientMismatch: {
    make: ([tokenId]) => new InvalidInputError(`An amendment of record #${String(tokenId)} must be for the same patient.`),
  },
  MedicalRecordNotOwner: {
    make: ([tokenId, caller]) =>
      new AccessDeniedError(`${String(caller)} does not own record #${String(tokenId)}, so it cannot erase it.`, {
        hint: 'Only the patient who owns a record can erase it.',
      }),
  },
  MedicalRecordNotIssuer: {
    make: ([tokenId, caller]) =>
      new AccessDeniedError(`${String(caller)} did not issue record #${String(tokenId)}, so it cannot amend it.`, {
        hint: 'Only the provider that issued a record may correct it; issue a new record instead.',
      }),
  },
  MedicalRecordErased: {
    make: ([tokenId, at]) =>
      new RecordErasedError(
        `Record #${String(tokenId)} was erased by its patient on ${new Date(Number(at) * 1000).toISOString()}; it cannot be changed.`,
      ),
  },
  ConsentRecordErased: {
    make: ([tokenId]) =>
      new RecordErasedError(`Record #${String(tokenId)} was erased by its patient; it can never be shared again.`, {
        hint: 'Leave it out of the grant.',
      }),
  },
  // An account whose records moved by recovery or rotation (see src/recovery).
  MedicalRecordAccountRetired: {
    make: ([account, successor]) =>
      new AccessDeniedError(`${String(account)} was recovered or rotated to ${String(successor)} and can do nothing any more.`, {
        hint: 'Use the new account.',
      }),
  },
  ConsentAccountRetired: {
    make: ([account, successor]) =>
      new AccessDeniedError(`${String(account)} was recovered or rotated to ${String(successor)}; it can no longer grant or revoke.`, {
        hint: 'Use the new account.',
      }),
  },
  ERC721NonexistentToken: {
    make: ([tokenId]) =>
      new NotFoundError(`There is no record #${String(tokenId)}.`, { hint: 'Check the token id with `medvault record list`.' }),
  },
  ProviderRegistryAlreadyRegistered: {
    make: ([p]) => new InvalidInputError(`${String(p)} is already in the provider registry.`),
  },
  ProviderRegistryUnknownProvider: {
    make: ([p]) => new NotFoundError(`${String(p)} is not in the provider registry.`),
  },
  ProviderRegistryInvalidStatus: {
    make: ([p, status]) =>
      new InvalidInputError(
        `That change is not allowed: provider ${String(p)} is ${['unregistered', 'active', 'suspended', 'removed'][Number(status)]}.`,
      ),
  },
  ProviderRegistryInvalidName: {
    make: () => new InvalidInputError('Provider names must be 1-64 characters without quotes or backslashes.'),
  },
  ProviderRegistryInvalidInput: {
    make: () => new InvalidInputError('The provider address or encryption key is missing.'),
  },
  ConsentUnauthorized: {
    make: ([caller, patient]) =>
      new AccessDeniedError(`${String(caller)} may not grant or revoke for ${String(patient)}.`, {
        hint: 'Only the patient, or a delegate the patient named (`medvault delegate`), can.',
      }),
  },
  ConsentDelegateCannotShareSensitive: {
    make: () =>
      new AccessDeniedError(
        'A delegate cannot share sensitive records (mental health, substance use, sexual health, genetic, restricted).',
        {
          hint: 'Only the patient can; ask them to make this grant.',
        },
      ),
  },
  ConsentInvalidExpiry: {
    make: () => new InvalidInputError('A grant needs an expiry in the future, at most 10 years away.', { hint: 'Use --for, e.g. 7d.' }),
  },
  ConsentInvalidGrant: {
    make: () =>
      new InvalidInputError('The grant is incomplete: name a grantee other than the patient, and the records or categories to share.'),
  },
  ConsentNotOwner: {
    make: ([tokenId]) => new InvalidInputError(`Record #${String(tokenId)} does not belong to this patient.`),
  },
  ConsentUnknownGrant: {
    make: ([grantId]) =>
      new NotFoundError(`There is no grant #${String(grantId)}.`, { hint: 'List grants with `medvault grants --patient P`.' }),
  },
  ConsentGrantInactive: {
    make: ([grantId]) => new InvalidInputError(`Grant #${String(grantId)} has already ended (revoked or expired).`),
  },
  ConsentNotRegistrar: {
    make: ([caller]) => new AccessDeniedError(`${String(caller)} is not a registrar.`),
  },
  ConsentNotEmergencyProvider: {
    make: ([provider]) =>
      new AccessDeniedError(`${String(provider)} is not an active provider flagged for emergency care.`, {
        hint: 'The registrar flags emergency providers with `medvault emergency allow PROVIDER`.',
      }),
  },
  ConsentEmergencyAlreadyOpen: {
    make: ([, , until]) =>
      new InvalidInputError(
        `An emergency window is already open until ${new Date(Number(until) * 1000).toISOString()}; it cannot be extended.`,
      ),
  },
  AuditAnchorNotContiguous: {
    make: ([expected, first]) =>
      new InvalidInputError(`The audit batch starts at entry ${String(first)}, but the chain expects ${String(expected)}.`),
  },
  AccessControlUnauthorizedAccount: {
    make: ([account]) =>
      new AccessDeniedError(`${String(account)} is not a registrar.`, { hint: 'Run the command as an account with the registrar role.' }),
  },
}

/** Turns a viem error from a contract call into a MedvaultError with a plain message. */
export function toMedvaultError(error: unknown): MedvaultError {
  if (error instanceof MedvaultError) return error
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError)
    if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName) {
      const known = KNOWN[reverted.data.errorName]
      if (known) return Object.assign(known.make(reverted.data.args ?? []), { cause: error })
      return new ChainError(`The chain refused the transaction (${reverted.data.errorName}).`, { cause: error })
    }
    const unreachable = error.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError)
    if (unreachable) {
      return new ChainUnavailableError(
        unreachable instanceof TimeoutError
          ? 'The chain took too long to answer.'
          : 'The chain did not answer (it is stopped or unreachable).',
        {
          cause: error,
          hint: 'Check that it is running (`medvault status`, or `medvault start`); run the command again once it is back: what was done is kept, nothing is done twice.',
        },
      )
    }
    return new ChainError(`The chain call failed: ${error.shortMessage}`, {
      cause: error,
      hint: 'Check that the chain is running (`medvault status`) and reachable.',
    })
  }
  return new ChainError('The chain call failed.', { cause: error })
}
