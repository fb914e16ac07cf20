/** Reading and writing ArchiveAnchor: anchoring, revocation, an archive's state, and its errors in plain words. */
import { type Account, type Address, type Hex, getAddress } from 'viem'
import { toMedvaultError, writeAndWait, writeForEvent } from '../chain/index.js'
import { archiveAnchorAbi } from '../contracts/index.js'
import { HomeError } from '../errors.js'
import type { RecordsContext } from '../records/index.js'
import { archiveIdOf } from './leaf.js'

type Ctx = Pick<RecordsContext, 'publicClient' | 'deployment'>

/** The ArchiveAnchor of this deployment; HomeError for homes deployed before it existed. */
export function archiveAddress(ctx: Pick<RecordsContext, 'deployment'>): Address {
  const address = ctx.deployment.archive
  if (!address) {
    throw new HomeError('This medvault deployment has no ArchiveAnchor contract.', {
      hint: 'Run `medvault archive deploy --as ACCOUNT` once to add it (the embedded chain adds it by itself).',
    })
  }
  return address
}

/** An anchored archive as the chain holds it. */
export type ArchiveInfo = {
  archiveId: Hex
  root: Hex
  issuer: Address
  count: number
  anchoredAt: Date
  manifestDigest: Hex
  manifestCodec: number
  /** When the issuer or the registrar revoked it; absent while it is valid. */
  revokedAt?: Date
}

/** The archive `archiveId`, or undefined when the chain holds none by that id. */
export async function getArchive(ctx: Ctx, archiveId: Hex): Promise<ArchiveInfo | undefined> {
  let a: Awaited<ReturnType<typeof readArchive>>
  try {
    a = await readArchive(ctx, archiveId)
  } catch (error) {
    throw toMedvaultError(error)
  }
  if (/^0x0+$/.test(a.root)) return undefined
  return {
    archiveId,
    root: a.root,
    issuer: getAddress(a.issuer),
    count: a.count,
    anchoredAt: new Date(a.anchoredAt * 1000),
    manifestDigest: a.manifestDigest,
    manifestCodec: a.manifestCodec,
    ...(a.revokedAt > 0 ? { revokedAt: new Date(a.revokedAt * 1000) } : {}),
  }
}

const readArchive = (ctx: Ctx, archiveId: Hex) =>
  ctx.publicClient.readContract({ address: archiveAddress(ctx), abi: archiveAnchorAbi, functionName: 'archiveOf', args: [archiveId] })

export type AnchorArchiveParameters = {
  issuer: Account
  root: Hex
  count: number
  manifest: { digest: Hex; codec: number }
}

export type AnchorArchiveReturnType = { archiveId: Hex; txHash: Hex; gasUsed: bigint; blockNumber: bigint; anchoredAt: Date }

/**
 * Checks, without sending anything, that `issuer` may anchor an archive now (an active provider),
 * so a refusal comes before any record is sealed and stored.
 */
export async function preflightAnchor(ctx: Ctx, issuer: Account): Promise<void> {
  try {
    await ctx.publicClient.simulateContract({
      account: issuer,
      address: archiveAddress(ctx),
      abi: archiveAnchorAbi,
      functionName: 'anchor',
      args: [`0x${'11'.repeat(32)}`, 1, `0x${'22'.repeat(32)}`, 0x55],
    })
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/** Anchors an archive's root in one transaction (`ArchiveAnchor.anchor`) and waits for it. */
export async function anchorArchive(ctx: RecordsContext, params: AnchorArchiveParameters): Promise<AnchorArchiveReturnType> {
  const address = archiveAddress(ctx)
  try {
    const { event, receipt } = await writeForEvent(
      ctx,
      params.issuer,
      {
        address,
        abi: archiveAnchorAbi,
        functionName: 'anchor',
        args: [params.root, params.count, params.manifest.digest, params.manifest.codec],
      },
      'ArchiveAnchored',
    )
    const txHash = receipt.transactionHash
    const block = await ctx.publicClient.getBlock({ blockNumber: receipt.blockNumber })
    return {
      archiveId: event.args.archiveId,
      txHash,
      gasUsed: receipt.gasUsed,
      blockNumber: receipt.blockNumber,
      anchoredAt: new Date(Number(block.timestamp) * 1000),
    }
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/** Revokes an archive (its issuer or a registrar): none of its records verifies from then on. */
export async function revokeArchive(ctx: RecordsContext, account: Account, archiveId: Hex): Promise<{ txHash: Hex }> {
  try {
    const receipt = await writeAndWait(ctx, account, {
      address: archiveAddress(ctx),
      abi: archiveAnchorAbi,
      functionName: 'revoke',
      args: [archiveId],
    })
    return { txHash: receipt.transactionHash }
  } catch (error) {
    throw toMedvaultError(error)
  }
}

export { archiveIdOf }
