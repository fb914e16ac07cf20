import { type Account, type Address, type Hex, bytesToHex, getAddress } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { type KeySlip, listGrants, wrapKeySlip } from '../consent/index.js'
import { publishOpenTags } from '../directory/index.js'
import { releasePendingKeys, listRecords, ownerRecordKey } from '../records/index.js'
import { AccessDeniedError, HomeError, InvalidInputError } from '../errors.js'
import { type Checkpoint, faultPoint } from '../journal/index.js'
import { type CategoryTag, type RecordsContext, buildTagTable, openTags } from '../core/index.js'
import { moveTagTables } from './moveTagTables.js'
import { getRecoveryState, moveGrants, moveTokens } from './recoveryChain.js'

export type MoveAccountParameters = {
  mode: 'recovery' | 'rotation'
  /** The old account's address, encryption seed and tag secret (from its keystore, or rebuilt from guardian shares). */
  from: { address: Address; encryptionSeed: Uint8Array; tagSecret: Uint8Array }
  to: UnlockedAccount
  /** Sends the token moves: the old key for a rotation, anyone (the new account) for a recovery. */
  sender: Account
  /**
   * Makes `tagSecret` the new account's tag secret where its keys are kept (for a home keystore:
   * `keystore.setTagSecret(name, passphrase, secret)`), so that it resolves the tags of the records
   * it takes over. Called before anything moves, and only when the new account's secret differs.
   */
  adoptTagSecret(tagSecret: Uint8Array): Promise<void>
  /** Grants not to take over (e.g. made by a thief with the old key). */
  dropGrants?: bigint[]
  /** Called at each step a crash test may kill the process at (see {@link accountMoveFault}). */
  checkpoint?: Checkpoint<AccountMovePoint>
}

/** The points a move passes, in order: `after-move` once per page of tokens moved. */
export const ACCOUNT_MOVE_POINTS = ['after-tags', 'after-rewrap', 'after-move', 'after-grants', 'after-slips'] as const
export type AccountMovePoint = (typeof ACCOUNT_MOVE_POINTS)[number]

/** The checkpoint `MEDVAULT_FAULT=account-move:<point>[:<n>]` asks for (rotation and recovery alike); undefined otherwise. */
export function accountMoveFault(spec: string | undefined): Checkpoint<AccountMovePoint> | undefined {
  return faultPoint(spec, 'account-move', ACCOUNT_MOVE_POINTS)
}

export type MoveAccountReturnType = {
  from: Address
  to: Address
  records: number
  /** Record keys wrapped to the new account (erased records have none). */
  rewrapped: number
  grantsMoved: bigint[]
  /** Key slips written for grantees that lacked one. */
  slipsReleased: number
  /** Tag tables sealed again for the grantees of the grants taken over (see moveTagTables.ts). */
  tagTablesShared: number
  txHashes: Hex[]
}

/**
 * Moves a patient's whole account to `to`, in an order a crash can resume from:
 * 0. `to` takes the old account's tag secret (its records keep their tags) and publishes the
 *    open tags on chain, so "all" grants and break-glass cover the moved non-sensitive records;
 * 1. wraps every record key to `to` as its own key slip (while the old seed is at hand);
 * 2. moves the tokens on chain, a page at a time (MedicalRecord.executeRecovery or rotate);
 * 3. takes over the old account's active grants (ConsentRegistry.moveGrants: same ids, terms, expiry)
 *    and seals the grantees' tag tables again under the new address;
 * 4. re-issues the grantees' key slips where any is missing.
 * Running it again after a failure finishes what is left and writes nothing twice.
 */
export async function moveAccount(ctx: RecordsContext, params: MoveAccountParameters): Promise<MoveAccountReturnType> {
  const { from } = params
  let to = params.to
  const reached = new Map<AccountMovePoint, number>()
  const checkpoint = (point: AccountMovePoint) => {
    const n = (reached.get(point) ?? 0) + 1
    reached.set(point, n)
    params.checkpoint?.(point, n)
  }
  if (!ctx.keySlips) throw new HomeError('This medvault keeps no key slips, so record keys cannot be wrapped to the new account.')
  const before = await getRecoveryState(ctx, from.address)
  if (before.successor && before.successor !== to.address) {
    // Refused here, before the new account's keys change, rather than by the chain later.
    throw new AccessDeniedError(
      `${getAddress(from.address)} was recovered or rotated to ${before.successor} and can do nothing any more.`,
      {
        hint: `Its records are with ${before.successor} now.`,
      },
    )
  }
  const openTagsTx = await takeOverTags(ctx, { from, to, moved: before.successor === to.address, adopt: params.adoptTagSecret })
  to = { ...to, tagSecret: from.tagSecret }
  checkpoint('after-tags')
  const owned = await listRecords(ctx, { patient: from.address })
  // Resuming: records already moved got their slip before moving. Written in one transaction once
  // all are wrapped (one sync to disk, not one per record); a run cut short wraps them again.
  const rewrapped: KeySlip[] = []
  for (const record of owned) {
    if (record.erasedAt || (await ctx.keySlips.get(record.tokenId, to.address))) continue
    const recordKey = await ownerRecordKey(ctx, record, from)
    try {
      rewrapped.push(
        await wrapKeySlip({
          recordKey,
          tokenId: record.tokenId,
          cid: record.cid.toString(),
          grantee: to.address,
          granteeKey: to.encryptionPublicKey,
          wrappedBy: to.address,
        }),
      )
    } finally {
      recordKey.fill(0)
    }
  }
  await ctx.keySlips.putMany(rewrapped)
  checkpoint('after-rewrap')
  // A move that already completed (a second run) has nothing left on chain.
  const done = (await getRecoveryState(ctx, from.address)).successor === to.address
  const txHashes = done
    ? []
    : await moveTokens(ctx, {
        mode: params.mode,
        from: from.address,
        to: to.address,
        sender: params.sender,
        tokenIds: owned.map((r) => r.tokenId),
        onPage: () => checkpoint('after-move'),
      })
  const drop = new Set(params.dropGrants ?? [])
  const grants = (await listGrants(ctx, from.address)).filter((g) => g.active && !drop.has(g.grantId) && g.grantee !== to.address)
  const moved = await moveGrants(ctx, to.chainAccount, { from: from.address, grants })
  if (moved) txHashes.push(moved)
  if (openTagsTx) txHashes.unshift(openTagsTx)
  const tagTablesShared = await moveTagTables(ctx, { from: from.address, to })
  checkpoint('after-grants')
  const slipsReleased = await releasePendingKeys(ctx, to)
  checkpoint('after-slips')
  return {
    from: getAddress(from.address),
    to: to.address,
    records: owned.length,
    rewrapped: rewrapped.length,
    grantsMoved: grants.map((g) => g.grantId),
    slipsReleased,
    tagTablesShared,
    txHashes,
  }
}

/**
 * Step 0 of a move: the new account takes the old account's tag secret and publishes its open
 * tags. Refused when the new account already holds records of its own under another secret (their
 * tags would no longer resolve): a move goes to a new, empty account. Returns the open-tags
 * transaction, if one was needed.
 */
async function takeOverTags(
  ctx: RecordsContext,
  params: {
    from: MoveAccountParameters['from']
    to: UnlockedAccount
    /** The tokens already moved (a resumed move): the new account's records are the old ones. */
    moved: boolean
    adopt: MoveAccountParameters['adoptTagSecret']
  },
): Promise<Hex | undefined> {
  const { from, to } = params
  let stale: CategoryTag[] = []
  if (bytesToHex(to.tagSecret) !== bytesToHex(from.tagSecret)) {
    if (!params.moved && (await listRecords(ctx, { patient: to.address })).length > 0) {
      throw new InvalidInputError(
        `${to.name} already holds records of its own, so it cannot take over the records of ${getAddress(from.address)}.`,
        {
          hint: 'Move to a new, empty account (`medvault account create NAME`); nothing was moved.',
        },
      )
    }
    await params.adopt(from.tagSecret)
    // The open tags the new account published for the secret it had: no record has them now.
    stale = openTags(buildTagTable(to.tagSecret))
  }
  return publishOpenTags(ctx, { address: to.address, chainAccount: to.chainAccount, tagSecret: from.tagSecret }, { closed: stale })
}
