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

type Known = (args: readonly unknown[]) => MedvaultError

const when = (seconds: unknown) => new Date(Number(seconds) * 1000).toISOString()
const CONTRIBUTION_STATUS = ['unknown', 'reserved', 'withdrawn', 'delivered']

/**
 * Custom errors of all our contracts, as messages a person can act on: the one table every chain
 * write and read maps its failures through (error names are unique across the contracts).
 */
const KNOWN: Record<string, Known> = {
  MedicalRecordInactiveIssuer: ([issuer]) =>
    new NotAProviderError(`${String(issuer)} is not an active provider in the registry, so it cannot issue records.`, {
      hint: 'Ask the registrar to register or reinstate it (`medvault provider register|reinstate`).',
    }),
  MedicalRecordInvalidConsent: () =>
    new AccessDeniedError('The patient has not consented to this record: the consent signature is missing, invalid or already used.', {
      hint: 'Have the patient sign a fresh consent, or authorise the provider (`medvault provider authorize`).',
    }),
  MedicalRecordConsentExpired: () =>
    new AccessDeniedError("The patient's consent signature has expired.", { hint: 'Ask the patient to sign again.' }),
  MedicalRecordInvalidRequest: () =>
    new InvalidInputError('The chain refused the record fields (category, sensitivity or content address).'),
  MedicalRecordSoulbound: () => new AccessDeniedError('Medical record tokens cannot be transferred or approved.'),
  MedicalRecordAlreadyAmended: ([tokenId, by]) =>
    new InvalidInputError(`Record #${String(tokenId)} was already amended by #${String(by)}.`, {
      hint: `Amend the newest version, #${String(by)}.`,
    }),
  MedicalRecordPatientMismatch: ([tokenId]) =>
    new InvalidInputError(`An amendment of record #${String(tokenId)} must be for the same patient.`),
  MedicalRecordNotOwner: ([tokenId, caller]) =>
    new AccessDeniedError(`${String(caller)} does not own record #${String(tokenId)}, so it cannot erase it.`, {
      hint: 'Only the patient who owns a record can erase it.',
    }),
  MedicalRecordNotIssuer: ([tokenId, caller]) =>
    new AccessDeniedError(`${String(caller)} did not issue record #${String(tokenId)}, so it cannot amend it.`, {
      hint: 'Only the provider that issued a record may correct it; issue a new record instead.',
    }),
  MedicalRecordErased: ([tokenId, at]) =>
    new RecordErasedError(
      `Record #${String(tokenId)} was erased by its patient on ${new Date(Number(at) * 1000).toISOString()}; it cannot be changed.`,
    ),
  ConsentRecordErased: ([tokenId]) =>
    new RecordErasedError(`Record #${String(tokenId)} was erased by its patient; it can never be shared again.`, {
      hint: 'Leave it out of the grant.',
    }),
  // An account whose records moved by recovery or rotation (see src/recovery).
  MedicalRecordAccountRetired: ([account, successor]) =>
    new AccessDeniedError(`${String(account)} was recovered or rotated to ${String(successor)} and can do nothing any more.`, {
      hint: 'Use the new account.',
    }),
  ConsentAccountRetired: ([account, successor]) => accountRetiredError(account, successor),
  ERC721NonexistentToken: ([tokenId]) =>
    new NotFoundError(`There is no record #${String(tokenId)}.`, { hint: 'Check the token id with `medvault record list`.' }),
  ProviderRegistryAlreadyRegistered: ([p]) => new InvalidInputError(`${String(p)} is already in the provider registry.`),
  ProviderRegistryUnknownProvider: ([p]) => new NotFoundError(`${String(p)} is not in the provider registry.`),
  ProviderRegistryInvalidStatus: ([p, status]) =>
    new InvalidInputError(
      `That change is not allowed: provider ${String(p)} is ${['unregistered', 'active', 'suspended', 'removed'][Number(status)]}.`,
    ),
  ProviderRegistryInvalidName: () => new InvalidInputError('Provider names must be 1-64 characters without quotes or backslashes.'),
  ProviderRegistryInvalidInput: () => new InvalidInputError('The provider address or encryption key is missing.'),
  ConsentUnauthorized: ([caller, patient]) =>
    new AccessDeniedError(`${String(caller)} may not grant or revoke for ${String(patient)}.`, {
      hint: 'Only the patient, or a delegate the patient named (`medvault delegate`), can.',
    }),
  ConsentDelegateCannotShareSensitive: () =>
    new AccessDeniedError('A delegate cannot share sensitive records (mental health, substance use, sexual health, genetic, restricted).', {
      hint: 'Only the patient can; ask them to make this grant.',
    }),
  ConsentInvalidExpiry: () =>
    new InvalidInputError('A grant needs an expiry in the future, at most 10 years away.', { hint: 'Use --for, e.g. 7d.' }),
  ConsentInvalidGrant: () =>
    new InvalidInputError('The grant is incomplete: name a grantee other than the patient, and the records or categories to share.'),
  ConsentNotOwner: ([tokenId]) => new InvalidInputError(`Record #${String(tokenId)} does not belong to this patient.`),
  ConsentUnknownGrant: ([grantId]) =>
    new NotFoundError(`There is no grant #${String(grantId)}.`, { hint: 'List grants with `medvault grants --patient P`.' }),
  ConsentGrantInactive: ([grantId]) => new InvalidInputError(`Grant #${String(grantId)} has already ended (revoked or expired).`),
  ConsentNotRegistrar: ([caller]) => new AccessDeniedError(`${String(caller)} is not a registrar.`),
  ConsentNotEmergencyProvider: ([provider]) =>
    new AccessDeniedError(`${String(provider)} is not an active provider flagged for emergency care.`, {
      hint: 'The registrar flags emergency providers with `medvault emergency allow PROVIDER`.',
    }),
  ConsentEmergencyAlreadyOpen: ([, , until]) =>
    new InvalidInputError(
      `An emergency window is already open until ${new Date(Number(until) * 1000).toISOString()}; it cannot be extended.`,
    ),
  AuditAnchorNotContiguous: ([expected, first]) =>
    new InvalidInputError(`The audit batch starts at entry ${String(first)}, but the chain expects ${String(expected)}.`),
  AccessControlUnauthorizedAccount: ([account]) =>
    new AccessDeniedError(`${String(account)} is not a registrar.`, { hint: 'Run the command as an account with the registrar role.' }),
  // ArchiveAnchor (src/archive).
  ArchiveAnchorInactiveIssuer: ([a0]) =>
    new NotAProviderError(`${String(a0)} is not an active provider in the registry, so it cannot anchor an archive.`, {
      hint: 'Ask the registrar to register or reinstate it (`medvault provider register|reinstate`).',
    }),
  ArchiveAnchorInvalidArchive: () => new InvalidInputError('The chain refused the archive: an empty root, manifest or record count.'),
  ArchiveAnchorAlreadyAnchored: ([a0]) => new InvalidInputError(`This provider already anchored archive ${String(a0)}.`),
  ArchiveAnchorUnknownArchive: ([a0]) =>
    new NotFoundError(`No archive ${String(a0)} is anchored on this chain.`, { hint: 'Check the archive id.' }),
  ArchiveAnchorNotAllowed: () => new AccessDeniedError('Only the provider that anchored an archive, or the registrar, may revoke it.'),
  ArchiveAnchorAlreadyRevoked: ([a0]) => new InvalidInputError(`Archive ${String(a0)} is revoked already.`),
  // MedicalRecord's recovery (src/recovery).
  MedicalRecordInvalidGuardians: () =>
    new InvalidInputError('The chain refused the guardians.', {
      hint: `Name 2 to 10 distinct guardians other than the patient, and a threshold between 2 and their number.`,
    }),
  MedicalRecordInvalidDelay: ([delay]) =>
    new InvalidInputError(`A recovery delay of ${String(delay)} s is out of bounds.`, { hint: 'Use between 1 day and 30 days.' }),
  MedicalRecordNotGuardian: ([patient, account]) =>
    new AccessDeniedError(`${String(account)} is not a guardian of ${String(patient)}.`, {
      hint: 'Only the guardians the patient named with `medvault recovery setup` can approve a recovery.',
    }),
  MedicalRecordAlreadyApproved: ([, guardian, newAccount]) =>
    new InvalidInputError(`${String(guardian)} already approved the recovery to ${String(newAccount)}.`),
  MedicalRecordInvalidApproval: ([, guardian]) =>
    new AccessDeniedError(`The approval signature is not ${String(guardian)}'s for this recovery round.`, {
      hint: 'The recovery was cancelled or the guardians changed since it was signed; sign again.',
    }),
  MedicalRecordInvalidSuccessor: ([account]) =>
    new InvalidInputError(`${String(account)} cannot receive the records (it is the patient, zero, or a retired account).`),
  MedicalRecordRecoveryPending: ([, newAccount, readyAt]) =>
    new InvalidInputError(`A recovery to ${String(newAccount)} is already pending (executable from ${when(readyAt)}).`),
  MedicalRecordNoRecovery: ([patient]) =>
    new NotFoundError(`No recovery of ${String(patient)} is pending.`, {
      hint: 'It needs the threshold of guardian approvals first (`medvault recovery status`); it may have been cancelled or completed.',
    }),
  MedicalRecordRecoveryNotReady: ([, readyAt]) =>
    new AccessDeniedError(`The recovery delay has not passed: it can be executed from ${when(readyAt)}.`, {
      hint: 'The delay gives the owner time to cancel a recovery they did not ask for. Run `medvault recovery execute` again then.',
    }),
  MedicalRecordRecoveryInProgress: ([, newAccount]) =>
    new InvalidInputError(`The records are already moving to ${String(newAccount)}; the move can only be completed.`, {
      hint: 'Run the same `medvault recovery execute` or `medvault account rotate` again to finish it.',
    }),
  // ResearchMarket and the ERC-20 it takes budgets in (src/research/market).
  ResearchMarketNotRegistrar: ([caller]) =>
    new AccessDeniedError(`${String(caller)} is not a registrar, so it cannot approve or revoke researchers.`, {
      hint: 'Run the command as an account with the registrar role.',
    }),
  ResearchMarketNotResearcher: ([account]) =>
    new AccessDeniedError(`${String(account)} is not an approved research organisation.`, {
      hint: 'The registrar approves research organisations; a revoked one can post no study and its studies take no new patients.',
    }),
  ResearchMarketInvalidTerms: () =>
    new InvalidInputError(
      'The study terms are incomplete: it needs a protocol, at least one category, a price and a number of records above zero, and a deadline in the future at most two years away.',
    ),
  ResearchMarketWrongFunding: ([expected, received]) =>
    new InvalidInputError(`The study budget was not funded exactly: ${String(expected)} expected, ${String(received)} received.`, {
      hint: 'Send exactly price x records; tokens that take a fee on transfer cannot fund a study.',
    }),
  ResearchMarketUnknownStudy: ([id]) =>
    new NotFoundError(`There is no study #${String(id)}.`, { hint: 'List studies with `medvault study list`.' }),
  ResearchMarketStudyClosed: ([id, at]) =>
    new InvalidInputError(`Study #${String(id)} was closed by its researcher on ${when(at)}; it takes no new contributions.`),
  ResearchMarketDeadlinePassed: ([id, deadline]) =>
    new InvalidInputError(
      `The deadline of study #${String(id)} passed on ${when(deadline)}; it takes no contributions or deliveries any more.`,
    ),
  ResearchMarketBudgetExhausted: ([id, requested, available]) =>
    new InvalidInputError(`Study #${String(id)} can pay for ${String(available)} more record(s), not ${String(requested)}.`, {
      hint: 'Contribute fewer records, or wait: contributions withdrawn by other patients free budget.',
    }),
  ResearchMarketInvalidRecordCount: ([count]) =>
    new InvalidInputError(`A contribution holds 1 to 100 records, not ${String(count)}.`, { hint: 'Split it into several contributions.' }),
  ResearchMarketNotRecordOwner: ([tokenId, caller]) =>
    new AccessDeniedError(`Record #${String(tokenId)} does not belong to ${String(caller)} (or does not exist).`, {
      hint: 'Contribute only your own records (`medvault record list --patient P`).',
    }),
  ResearchMarketRecordErased: ([tokenId]) =>
    new RecordErasedError(`Record #${String(tokenId)} was erased by its patient; it cannot be contributed.`, { hint: 'Leave it out.' }),
  ResearchMarketAlreadyContributed: ([id, tokenId, contributionId]) =>
    new InvalidInputError(`Record #${String(tokenId)} is already in contribution #${String(contributionId)} to study #${String(id)}.`, {
      hint: 'A record is contributed to a study once; list each record once.',
    }),
  ResearchMarketUnknownContribution: ([id]) => new NotFoundError(`There is no contribution #${String(id)}.`),
  ResearchMarketNotContributor: ([id, caller]) =>
    new AccessDeniedError(`Contribution #${String(id)} was not made by ${String(caller)}.`, {
      hint: 'Only the patient who contributed may deliver or withdraw it.',
    }),
  ResearchMarketNotReserved: ([id, status]) =>
    new InvalidInputError(`Contribution #${String(id)} is already ${CONTRIBUTION_STATUS[Number(status)] ?? 'settled'}.`, {
      hint: 'A contribution is delivered or withdrawn once.',
    }),
  ResearchMarketInvalidDataset: () =>
    new InvalidInputError('A delivery needs the dataset CID (at most 128 bytes) and a non-zero commitment.'),
  ResearchMarketNotStudyResearcher: ([id, caller]) =>
    new AccessDeniedError(`${String(caller)} did not post study #${String(id)}, so it cannot close it.`),
  ResearchMarketAlreadySettled: ([id]) => new InvalidInputError(`Study #${String(id)} is already settled; nothing is left to refund.`),
  ResearchMarketAlreadyClosed: ([id, at]) =>
    new InvalidInputError(`Study #${String(id)} was already closed on ${when(at)}.`, {
      hint: 'Close it again after its deadline to get back what patients reserved but did not deliver.',
    }),
  ResearchMarketNothingToWithdraw: ([account]) => new InvalidInputError(`${String(account)} has nothing to withdraw in that currency.`),
  ResearchMarketTransferFailed: ([account]) =>
    new ChainError(`Paying ${String(account)} failed: the account refused the payment. The balance is still owed.`, {
      hint: 'Withdraw to an account that accepts payments.',
    }),
  ERC20InsufficientAllowance: () =>
    new InvalidInputError('The market may not take the study budget from this account.', {
      hint: 'Approve the market for the budget first.',
    }),
  ERC20InsufficientBalance: () => new InvalidInputError('The account does not hold enough tokens for the study budget.'),
}

/** Turns a viem error from a contract call into a MedvaultError with a plain message. */
export function toMedvaultError(error: unknown): MedvaultError {
  if (error instanceof MedvaultError) return error
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError)
    if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName) {
      const known = KNOWN[reverted.data.errorName]
      if (known) return Object.assign(known(reverted.data.args ?? []), { cause: error })
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

/** A retired account (its records moved by a recovery or rotation) tried to grant, revoke or change its open tags. */
export function accountRetiredError(account: unknown, successor: unknown): AccessDeniedError {
  return new AccessDeniedError(`${String(account)} was recovered or rotated to ${String(successor)}; it can no longer grant or revoke.`, {
    hint: 'Use the new account.',
  })
}
