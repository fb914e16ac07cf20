import type { Command } from 'commander'
import { type Address, getAddress } from 'viem'
import { releasePendingKeys, SENSITIVE_CATEGORIES, parseCategory, sensitivityNames } from '../../records/index.js'
import {
  type GrantInfo,
  type GrantTerms,
  type TagReader,
  listGrants,
  parsePurpose,
  setEmergencyProvider,
  getGrant,
  saveEmergencyReason,
  shareDelegateTags,
} from '../../consent/index.js'
import { InvalidInputError } from '../../errors.js'
import type { Medvault } from '../../home/index.js'
import { delegateOnce, emergencyOnce, grantOnce, operationFault, revokeOnce } from '../../operations/index.js'
import { parseDuration } from '../duration.js'
import { type GlobalOptions, collectList, emit, outcomeLine } from '../output.js'
import { parseTokenId, registrarAccount, resolveAddress, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

/**
 * Plain words for a grant: who gets what until when. Its categories are what the viewer's tag
 * table maps the grant's tags to; tags it cannot map are counted, never named as a guess.
 */
export function describeGrant(g: GrantInfo, names: (a: Address) => string): string {
  const unknown = g.unknownTags.length ? `${g.unknownTags.length} class(es) you have no tag table for` : ''
  const what =
    g.scope === 'records'
      ? 'the listed records'
      : g.scope === 'all'
        ? 'all records'
        : [...(g.categories ?? []), ...(unknown ? [unknown] : [])].join(', ')
  const sensitive =
    g.scope === 'records'
      ? ''
      : sensitivityNames(g.sensitive).length
        ? ` (including ${sensitivityNames(g.sensitive).join(', ')})`
        : g.scope === 'all' && g.unknownTags.length
          ? ` (and ${unknown})`
          : ' (no sensitive records)'
  const state = g.revokedAt
    ? `revoked ${g.revokedAt.toISOString()}`
    : g.active
      ? `until ${g.expiresAt.toISOString()}`
      : `expired ${g.expiresAt.toISOString()}`
  return `#${g.grantId} ${names(g.grantee)} may read ${what}${sensitive} for ${g.purpose}, ${state}`
}

function nameOf(mv: Medvault) {
  const accounts = mv.keystore.list()
  return (address: Address) => accounts.find((a) => a.address === getAddress(address))?.name ?? address
}

export function consentCommands(program: Command, run: Run) {
  program
    .command('grant')
    .description('Let someone read some of your records until a set time')
    .option('--record <tokens>', 'record token ids (repeat or comma-separate)', collectList)
    .option('--category <categories>', 'categories, e.g. laboratory,imaging (repeat or comma-separate)', collectList)
    .option('--all', 'all records (sensitive ones only where named with --include-sensitive)')
    .option(
      '--include-sensitive <kinds>',
      'also cover records flagged mental-health, substance-use, sexual-health, genetic or restricted',
      collectList,
    )
    .requiredOption('--to <account>', 'who may read: an account name or address')
    .requiredOption('--for <duration>', 'how long: 30m, 12h, 7d, 2w, 1y')
    .option('--purpose <purpose>', 'treatment, payment, research, emergency, other', 'treatment')
    .requiredOption('--as <account>', 'the patient, or a delegate the patient named')
    .option('--patient <account>', 'whose records, when acting as a delegate')
    .action(
      (
        opts: {
          record?: string[]
          category?: string[]
          all?: boolean
          includeSensitive?: string[]
          to: string
          for: string
          purpose: string
          as: string
          patient?: string
        },
        cmd: Command,
      ) =>
        run(async (o) => {
          const chosen = [opts.record, opts.category, opts.all].filter(Boolean).length
          if (chosen !== 1) throw new InvalidInputError('Say what to share: exactly one of --record, --category or --all.')
          const flagNames: Record<string, number> = {
            'mental-health': 1,
            'substance-use': 2,
            'sexual-health': 4,
            genetic: 8,
            restricted: 16,
          }
          const sensitive = (opts.includeSensitive ?? []).reduce((mask, name) => {
            const flag = flagNames[name]
            if (!flag)
              throw new InvalidInputError(`Unknown sensitive kind "${name}".`, { hint: `Use: ${Object.keys(flagNames).join(', ')}.` })
            return mask | flag
          }, 0)
          const terms: GrantTerms = opts.record
            ? { scope: 'records', tokenIds: opts.record.map(parseTokenId) }
            : opts.category
              ? { scope: 'categories', categories: opts.category.map(parseCategory), sensitive }
              : { scope: 'all', sensitive }
          const seconds = parseDuration(opts.for)
          const purpose = parsePurpose(opts.purpose)
          const result = await withMedvault(o, async (mv) => {
            const grantor = await unlock(mv, opts.as)
            const patient = opts.patient ? resolveAddress(mv, opts.patient) : grantor.address
            const grantee = resolveAddress(mv, opts.to)
            const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'grant')
            // Journaled and idempotent: the same command run again finishes a stopped run, or returns the active grant it made.
            const { grantId, txHash, keysReleased, outcome } = await grantOnce(mv, {
              grantor,
              patient,
              grantee,
              terms,
              durationSeconds: seconds,
              purpose,
              journalDir: mv.paths.operations,
              // The patient's own key wraps the records the grant covers now; a delegate cannot.
              ...(patient === grantor.address ? { releaseKeys: (id: bigint) => releasePendingKeys(mv, grantor, { grantId: id }) } : {}),
              ...(checkpoint ? { checkpoint } : {}),
            })
            const released = keysReleased
            const grant = await getGrant(mv, grantId, grantor)
            return {
              grant,
              txHash,
              keysReleased: released,
              description: describeGrant(grant, nameOf(mv)),
              delegated: patient !== grantor.address,
              outcome,
            }
          })
          const warn =
            terms.scope === 'categories' && terms.categories.some((c) => SENSITIVE_CATEGORIES[c])
              ? ['Note: this shares a sensitive category (named explicitly).']
              : []
          emit(o, result, () => [
            `Granted ${result.description}.`,
            ...warn,
            result.delegated
              ? "Keys are released by this node's escrow on the grantee's first read, or by the patient's `medvault sync`."
              : `${result.keysReleased} record key(s) released to the grantee; records issued later in scope are released by their issuer.`,
            `Revoke at any time: medvault revoke ${result.grant.grantId} --as ${opts.as}`,
            ...outcomeLine(result.outcome, 'this grant'),
          ])
        }, cmd),
    )

  program
    .command('revoke')
    .argument('<grant>', 'grant id')
    .requiredOption('--as <account>', 'the patient, or their delegate')
    .description('End a grant now (effective from the next block)')
    .action((grant: string, opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const grantId = parseTokenId(grant)
        const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'revoke')
        // Journaled: run again after a crash, it finishes the revocation it began instead of failing on "already ended".
        const { txHash, outcome } = await withMedvault(o, async (mv) =>
          revokeOnce(mv, {
            grantor: (await unlock(mv, opts.as)).chainAccount,
            grantId,
            journalDir: mv.paths.operations,
            ...(checkpoint ? { checkpoint } : {}),
          }),
        )
        emit(o, { grantId, txHash, outcome }, () => [
          `Revoked grant #${grantId}. Nothing more is released to its grantee.`,
          ...outcomeLine(outcome, 'this revocation'),
        ])
      }, cmd),
    )

  program
    .command('grants')
    .requiredOption('--patient <account>', 'whose grants')
    .option('--as <account>', "who is looking (the patient, a delegate or a grantee): its tag table names the grants' categories")
    .description("List a patient's grants, active and past")
    .action((opts: { patient: string; as?: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const patient = resolveAddress(mv, opts.patient)
          // The chain holds only tags: whoever looks (--as, unlocked) maps them with its own tag table.
          const viewer: TagReader | undefined = opts.as ? await unlock(mv, opts.as) : undefined
          const grants = await listGrants(mv, patient, viewer)
          const names = nameOf(mv)
          return { grants: grants.map((g) => ({ ...g, description: describeGrant(g, names) })), mapped: viewer !== undefined }
        })
        emit(o, result, () => {
          const active = result.grants.filter((g) => g.active)
          const past = result.grants.filter((g) => !g.active)
          if (result.grants.length === 0) return ['No grants.']
          return [
            `Active (${active.length}):`,
            ...active.map((g) => `  ${g.description}`),
            `Past (${past.length}):`,
            ...past.map((g) => `  ${g.description}`),
            ...(result.mapped || result.grants.every((g) => g.tags.length === 0)
              ? []
              : ['Categories are tags on chain: add --as <account> (the patient, or whoever was given its tag table) to name them.']),
          ]
        })
      }, cmd),
    )

  program
    .command('sync')
    .requiredOption('--as <patient>', 'the patient')
    .description('Release record keys for grants made by a delegate or for records not yet wrapped')
    .action((opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const released = await withMedvault(o, async (mv) => releasePendingKeys(mv, await unlock(mv, opts.as)))
        emit(o, { keysReleased: released }, () => [`Released ${released} record key(s) to grantees.`])
      }, cmd),
    )

  for (const [name, enabled] of [
    ['delegate', true],
    ['undelegate', false],
  ] as const) {
    program
      .command(name)
      .argument('<account>', 'the guardian or carer')
      .requiredOption('--as <patient>', 'the patient')
      .description(enabled ? 'Name a delegate who may grant and revoke for you (nothing else)' : 'Remove a delegate at once')
      .action((account: string, opts: { as: string }, cmd: Command) =>
        run(async (o) => {
          const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'delegate')
          // Journaled: run again after a crash, it waits for the transaction it sent instead of sending another.
          const result = await withMedvault(o, async (mv) => {
            const delegate = resolveAddress(mv, account)
            const patient = await unlock(mv, opts.as)
            const { txHash, outcome } = await delegateOnce(mv, {
              patient: patient.chainAccount,
              delegate,
              enabled,
              journalDir: mv.paths.operations,
              ...(checkpoint ? { checkpoint } : {}),
            })
            // The open classes of the patient's tags, sealed to the delegate: what it may grant by category.
            if (enabled) await shareDelegateTags(mv, { patient, delegate })
            return { delegate, enabled, txHash, outcome }
          })
          emit(o, result, () => [
            enabled ? `${account} may now grant and revoke access for ${opts.as}.` : `${account} is no longer a delegate of ${opts.as}.`,
            ...outcomeLine(result.outcome, enabled ? 'naming this delegate' : 'removing this delegate'),
          ])
        }, cmd),
      )
  }

  const emergency = program.command('emergency').description('Break-glass access for emergency care')
  emergency
    .command('open')
    .requiredOption('--patient <account>', 'the patient in need of care')
    .requiredOption('--as <provider>', 'an emergency provider')
    .requiredOption('--reason <text>', 'why (stays with you; only a salted commitment to it goes on chain)')
    .description("Open a 24-hour window on the patient's non-sensitive records, without the patient")
    .action((opts: { patient: string; as: string; reason: string }, cmd: Command) =>
      run(async (o) => {
        if (opts.reason.trim().length < 5) throw new InvalidInputError('Give a real reason for emergency access.')
        const result = await withMedvault(o, async (mv) => {
          const provider = await unlock(mv, opts.as)
          const patient = resolveAddress(mv, opts.patient)
          const checkpoint = operationFault(process.env.MEDVAULT_FAULT, 'emergency')
          const opened = await emergencyOnce(mv, {
            provider: provider.chainAccount,
            patient,
            reason: opts.reason,
            journalDir: mv.paths.operations,
            ...(checkpoint ? { checkpoint } : {}),
          })
          saveEmergencyReason(mv.paths.emergencyReasons, {
            txHash: opened.txHash,
            patient,
            provider: provider.address,
            salt: opened.reasonSalt,
            commitment: opened.reasonHash,
          })
          const { journal: _journal, ...shown } = opened
          return shown
        })
        emit(o, result, () => [
          "EMERGENCY ACCESS OPENED. This is recorded on chain and shown first on the patient's timeline.",
          `Non-sensitive records are readable until ${result.until.toISOString()}; it cannot be extended.`,
          ...outcomeLine(result.outcome, 'opening this window'),
        ])
      }, cmd),
    )
  for (const [name, allowed] of [
    ['allow', true],
    ['deny', false],
  ] as const) {
    emergency
      .command(name)
      .argument('<provider>', 'the provider')
      .option('--as <registrar>', 'registrar account (default on the embedded chain: its development registrar)')
      .description(allowed ? 'Flag a provider for emergency care (registrar)' : "Remove a provider's emergency flag (registrar)")
      .action((providerRef: string, opts: { as?: string }, cmd: Command) =>
        run(async (o) => {
          const result = await withMedvault(o, async (mv) => {
            const provider = resolveAddress(mv, providerRef)
            return {
              provider,
              allowed,
              txHash: await setEmergencyProvider(mv, { registrar: await registrarAccount(mv, opts.as), provider, allowed }),
            }
          })
          emit(o, result, () => [`${providerRef} ${allowed ? 'may now open' : 'may no longer open'} emergency access.`])
        }, cmd),
      )
  }
}
