import type { Command } from 'commander'
import { type Address, getAddress } from 'viem'
import { queryAuditLog, receiptFor, verifyAuditLog, verifyReceipt } from '../../audit/index.js'
import { consentRegistryAbi } from '../../contracts/index.js'
import { InvalidInputError } from '../../errors.js'
import type { Medvault } from '../../home/index.js'
import { type GlobalOptions, emit } from '../output.js'
import { parseTokenId, resolveAddress, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

type ChainEvent = { block: bigint; event: string; detail: string }

/** Consent events on chain for a patient: grants, revocations, delegations, emergency accesses. */
async function consentEvents(mv: Medvault, patient: Address): Promise<ChainEvent[]> {
  const fromBlock = BigInt(mv.deployment.deployedAtBlock)
  const logs = await mv.publicClient.getContractEvents({
    address: mv.deployment.consent,
    abi: consentRegistryAbi,
    fromBlock,
    toBlock: 'latest',
  })
  const events: ChainEvent[] = []
  for (const log of logs) {
    const args = log.args as Record<string, unknown>
    if (args.patient === undefined || getAddress(args.patient as Address) !== getAddress(patient)) continue
    const detail =
      log.eventName === 'GrantCreated'
        ? `grant #${args.grantId} to ${args.grantee} until ${new Date(Number(args.expiresAt) * 1000).toISOString()}`
        : log.eventName === 'GrantRevoked'
          ? `grant #${args.grantId} revoked by ${args.revokedBy}`
          : log.eventName === 'EmergencyAccessOpened'
            ? `EMERGENCY access by ${args.provider} until ${new Date(Number(args.until) * 1000).toISOString()}`
            : `${args.delegate}`
    events.push({ block: log.blockNumber, event: log.eventName, detail })
  }
  return events
}

export function auditCommands(program: Command, run: Run) {
  program
    .command('audit')
    .option('--patient <account>', "every access to and permission change on this patient's records")
    .option('--record <token>', 'every access to this record')
    .option('--verify', 'check the whole access log: hash chain, signatures, and the roots anchored on chain')
    .option('--anchor', 'anchor the not-yet-anchored entries on chain now')
    .option('--receipt <seq>', 'a receipt proving one entry against the root anchored on chain (and its check)')
    .description('The audit trail: who accessed what and when, allowed or denied')
    .action((opts: { patient?: string; record?: string; verify?: boolean; anchor?: boolean; receipt?: string }, cmd: Command) =>
      run(async (o) => {
        if (!opts.patient && !opts.record && !opts.verify && !opts.anchor && !opts.receipt) {
          throw new InvalidInputError('Say what to show.', { hint: 'Use --patient P, --record T, --verify, --anchor or --receipt SEQ.' })
        }
        if (opts.receipt && !/^\d+$/.test(opts.receipt)) throw new InvalidInputError('--receipt takes an entry number (seq).')
        const result = await withMedvault(o, async (mv) => {
          const anchored = opts.anchor ? await mv.anchorAudit({ force: true }) : undefined
          const patient = opts.patient ? resolveAddress(mv, opts.patient) : undefined
          const tokenId = opts.record ? parseTokenId(opts.record) : undefined
          const entries =
            patient || tokenId
              ? await queryAuditLog(mv.paths.audit, {
                  ...(patient ? { patient } : {}),
                  ...(tokenId ? { tokenId: tokenId.toString() } : {}),
                })
              : []
          const onChain = patient ? await consentEvents(mv, patient) : []
          const verification = opts.verify
            ? await verifyAuditLog(mv, { dir: mv.paths.audit, signerAddress: mv.node.account.address })
            : undefined
          const receipt = opts.receipt ? await receiptFor(mv, mv.auditLog, Number(opts.receipt)) : undefined
          const receiptCheck = receipt ? await verifyReceipt(mv, receipt) : undefined
          const names = Object.fromEntries(mv.keystore.list().map((a) => [a.address, a.name]))
          return { log: mv.node.account.address, anchored, entries, onChain, verification, receipt, receiptCheck, names }
        })
        // People read names; scripts get addresses (and the name map).
        const named = (text: string) => text.replace(/0x[0-9a-fA-F]{40}/g, (a) => result.names[getAddress(a)] ?? a)
        emit(o, result, () => [
          ...(result.anchored
            ? [`Anchored entries ${result.anchored.firstSeq}-${result.anchored.lastSeq} on chain (tx ${result.anchored.txHash}).`]
            : []),
          ...(opts.anchor && !result.anchored ? ['Nothing to anchor.'] : []),
          ...(result.onChain.length
            ? ['On chain:', ...result.onChain.map((e) => named(`  block ${e.block}  ${e.event.padEnd(22)} ${e.detail}`))]
            : []),
          ...(opts.patient || opts.record
            ? [
                `Access attempts (${result.entries.length}):`,
                ...result.entries.map((e) =>
                  named(
                    `  ${e.at}  ${e.outcome === 'denied' ? 'DENIED ' : 'allowed'}  ${e.action.padEnd(11)} #${e.tokenId ?? '-'} by ${e.actor}${e.reason ? ` (${e.reason})` : ''}`,
                  ),
                ),
              ]
            : []),
          ...(result.receipt && result.receiptCheck
            ? [
                `Receipt for entry #${result.receipt.entry.seq} (batch ${result.receipt.batchIndex}, root ${result.receipt.root}): ${result.receiptCheck.ok ? 'VALID' : 'NOT VALID'}`,
                ...result.receiptCheck.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.message}`),
                JSON.stringify(result.receipt),
              ]
            : []),
          ...(result.verification
            ? result.verification.ok
              ? [
                  `Audit log intact: ${result.verification.entries} entries, anchored through #${result.verification.anchoredThrough ?? '-'}.`,
                ]
              : ['AUDIT LOG TAMPERED:', ...result.verification.problems.map((p) => `  #${p.seq} ${p.kind}: ${p.message}`)]
            : []),
        ])
        if (result.verification && !result.verification.ok) process.exitCode = 4
      }, cmd),
    )
}
