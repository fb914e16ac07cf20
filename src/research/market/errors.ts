import { BaseError, ContractFunctionRevertedError } from 'viem'
import { toMedvaultError } from '../../chain/errors.js'
import { AccessDeniedError, ChainError, InvalidInputError, type MedvaultError, NotFoundError, RecordErasedError } from '../../errors.js'

const when = (seconds: unknown) => new Date(Number(seconds) * 1000).toISOString()
const STATUS = ['unknown', 'reserved', 'withdrawn', 'delivered']

/** ResearchMarket's custom errors as messages a person can act on. */
const KNOWN: Record<string, (args: readonly unknown[]) => MedvaultError> = {
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
  ResearchMarketIneligibleRecord: ([tokenId]) =>
    new InvalidInputError(`Record #${String(tokenId)} is not in a category this study asks for.`, { hint: 'Leave it out.' }),
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
    new InvalidInputError(`Contribution #${String(id)} is already ${STATUS[Number(status)] ?? 'settled'}.`, {
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

/** Turns a viem error from a ResearchMarket call into a MedvaultError with a plain message. */
export function toMarketError(error: unknown): MedvaultError {
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError)
    const name = reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined
    const make = name ? KNOWN[name] : undefined
    if (make && reverted instanceof ContractFunctionRevertedError) return Object.assign(make(reverted.data?.args ?? []), { cause: error })
  }
  return toMedvaultError(error)
}
