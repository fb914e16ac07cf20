import { type Address, type Hex, getAddress } from 'viem'
import { readAuditLog, verifyAuditLog } from '../audit/index.js'
import type { AuditEntry } from '../audit/index.js'
import { toMedvaultError } from '../chain/index.js'
import { type EmergencyAccess, type TagReader, emergencyReasonsOf, listEmergencies, listGrants } from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { buildTagTable, classOf, sensitivityNames } from '../core/index.js'
import type { RecordsContext } from '../core/index.js'
import { listRecords } from '../records/index.js'
import { getProvider } from '../directory/index.js'
import {
  ACCESS_REPORT_VERSION,
  type AccessReport,
  type ReportAccess,
  type ReportEmergency,
  type ReportGrant,
  type ReportParty,
  type ReportRecord,
} from './accessReport.js'

export type GatherAccessReportParameters = {
  patient: Address
  /**
   * The patient's keys, when the caller holds them: the chain holds only blinded tags, and the
   * patient's tag secret names their categories. Without them records and category grants show
   * category "unknown" (never a guess).
   */
  keys?: TagReader
  /** The node's access log: its directory and the key that signs it. */
  auditLog: { dir: string; node: Address }
  /** Names of accounts this home holds, for people who are not registered providers. */
  accountNames?: ReadonlyMap<Address, string>
  /** Where this node keeps the salts of break-glass reasons (`<home>/emergencies`); each window's salt is released in the report. */
  emergencyReasonsDir?: string
  /** The report's time (default now). */
  now?: Date
}

type Ctx = Pick<RecordsContext, 'publicClient' | 'deployment'>

/**
 * Gathers everything the chain and this node's access log hold about a patient's records: each
 * record (issuer, date, category), each grant (who, what, why, from when until when, revoked
 * when and by whom), each emergency (break-glass) window, and each access attempt the node
 * logged, allowed or denied. Reads only; nothing is decrypted.
 *
 * @example
 * const report = await gatherAccessReport(mv, { patient: alice.address, auditLog: { dir: mv.paths.audit, node: mv.node.account.address } })
 */
export async function gatherAccessReport(ctx: Ctx, params: GatherAccessReportParameters): Promise<AccessReport> {
  const patient = getAddress(params.patient)
  const generatedAt = (params.now ?? new Date()).toISOString()
  const [block, records, grants, emergencies, created, revoked, entries, verification] = await Promise.all([
    ctx.publicClient.getBlockNumber(),
    listRecords(ctx, { patient }),
    listGrants(ctx, patient, params.keys),
    listEmergencies(ctx, patient),
    grantEvents(ctx, 'GrantCreated', patient),
    grantEvents(ctx, 'GrantRevoked', patient),
    readAuditLog(params.auditLog.dir),
    verifyAuditLog(ctx, { dir: params.auditLog.dir, signerAddress: params.auditLog.node }),
  ]).catch((error: unknown) => {
    throw toMedvaultError(error)
  })

  const tokens = new Set(records.map((r) => r.tokenId.toString()))
  const about = entries.filter(
    (e) => e.patient === patient || (e.patient === undefined && e.tokenId !== undefined && tokens.has(e.tokenId)),
  )

  const party = await partyNamer(ctx, params.accountNames)
  const salts = params.emergencyReasonsDir ? emergencyReasonsOf(params.emergencyReasonsDir, patient) : new Map()
  const windows = emergencies.map((e) => ({ ...e, from: e.openedAt.getTime(), to: e.until.getTime() }))
  const duringEmergency = (entry: AuditEntry) =>
    windows.some((w) => w.provider === entry.actor && Date.parse(entry.at) >= w.from && Date.parse(entry.at) < w.to)

  const table = params.keys && getAddress(params.keys.address) === patient ? buildTagTable(params.keys.tagSecret) : undefined
  const reportRecords: ReportRecord[] = await Promise.all(
    records.map(async (r) => ({
      tokenId: r.tokenId.toString(),
      category: (table && classOf(table, r.tag)?.category) ?? 'unknown',
      sensitive: sensitivityNames((table && classOf(table, r.tag)?.sensitivity) ?? 0),
      issuer: await party(r.issuer),
      issuedAt: r.issuedAt.toISOString(),
      ...(r.supersedes ? { amends: r.supersedes.toString() } : {}),
      ...(r.supersededBy ? { amendedBy: r.supersededBy.toString() } : {}),
      ...(r.erasedAt ? { erasedAt: r.erasedAt.toISOString() } : {}),
    })),
  )

  const reportGrants: ReportGrant[] = await Promise.all(
    grants.map(async (g) => {
      const made = created.get(g.grantId)
      const ended = revoked.get(g.grantId)
      return {
        grantId: g.grantId.toString(),
        grantee: await party(g.grantee),
        grantedBy: await party(made?.by ?? patient),
        scope: g.scope,
        ...(g.scope === 'records' ? { records: (made?.tokenIds ?? []).map(String) } : {}),
        ...(g.scope === 'categories' ? { categories: [...(g.categories ?? []), ...g.unknownTags.map(() => 'unknown')] } : {}),
        sensitive: g.scope === 'records' ? [] : sensitivityNames(g.sensitive),
        purpose: g.purpose,
        from: g.createdAt.toISOString(),
        until: g.expiresAt.toISOString(),
        ...(g.revokedAt ? { revokedAt: g.revokedAt.toISOString() } : {}),
        ...(ended ? { revokedBy: await party(ended) } : {}),
        status: g.revokedAt ? 'revoked' : g.active ? 'active' : 'expired',
      }
    }),
  )

  const reportEmergencies: ReportEmergency[] = await Promise.all(
    [...emergencies].reverse().map(async (e: EmergencyAccess) => ({
      provider: await party(e.provider),
      openedAt: e.openedAt.toISOString(),
      until: e.until.toISOString(),
      reasonHash: e.reasonHash,
      ...(salts.get(e.txHash.toLowerCase() as Hex)?.commitment === e.reasonHash.toLowerCase()
        ? { reasonSalt: salts.get(e.txHash.toLowerCase() as Hex)!.salt }
        : {}),
      open: e.open,
      accesses: about.filter(
        (a) => a.actor === e.provider && Date.parse(a.at) >= e.openedAt.getTime() && Date.parse(a.at) < e.until.getTime(),
      ).length,
    })),
  )

  const accesses: ReportAccess[] = await Promise.all(
    about.map(async (e) => ({
      seq: e.seq,
      at: e.at,
      actor: await party(e.actor),
      action: e.action,
      ...(e.tokenId !== undefined ? { tokenId: e.tokenId } : {}),
      outcome: e.outcome,
      ...(e.reason ? { reason: e.reason } : {}),
      ...(e.purpose ? { purpose: e.purpose } : {}),
      ...(duringEmergency(e) ? { emergency: true } : {}),
      ...(e.actor === patient ? { self: true } : {}),
    })),
  )

  return {
    version: ACCESS_REPORT_VERSION,
    title: 'medvault access report',
    generatedAt,
    patient: await party(patient),
    source: {
      chainId: ctx.deployment.chainId,
      records: ctx.deployment.records,
      consent: ctx.deployment.consent,
      block: block.toString(),
      auditLog: {
        node: getAddress(params.auditLog.node),
        entries: verification.entries,
        intact: verification.ok,
        ...(verification.anchoredThrough !== undefined ? { anchoredThrough: verification.anchoredThrough } : {}),
        problems: verification.problems.length,
      },
    },
    summary: {
      records: reportRecords.length,
      erasedRecords: reportRecords.filter((r) => r.erasedAt).length,
      grants: reportGrants.length,
      activeGrants: reportGrants.filter((g) => g.status === 'active').length,
      revocations: reportGrants.filter((g) => g.status === 'revoked').length,
      accesses: accesses.length,
      allowed: accesses.filter((a) => a.outcome === 'allowed').length,
      denied: accesses.filter((a) => a.outcome === 'denied').length,
      disclosures: accesses.filter((a) => !a.self && a.outcome === 'allowed').length,
      emergencyAccesses: reportEmergencies.length,
    },
    records: reportRecords,
    grants: reportGrants,
    emergencies: reportEmergencies,
    accesses,
  }
}

/** Names accounts: a registered provider by its registry name, others by their name in this home. Each looked up once. */
async function partyNamer(ctx: Ctx, names: ReadonlyMap<Address, string> | undefined) {
  const cache = new Map<Address, Promise<ReportParty>>()
  return (address: Address): Promise<ReportParty> => {
    const key = getAddress(address)
    let named = cache.get(key)
    if (!named) {
      named = getProvider(ctx, key).then((p): ReportParty => {
        if (p.status !== 'unregistered') return { address: key, name: p.name, provider: true }
        const local = names?.get(key)
        return local ? { address: key, name: local } : { address: key }
      })
      cache.set(key, named)
    }
    return named
  }
}

/** GrantCreated (token ids, grantor) or GrantRevoked (revoked by) per grant id, for one patient. */
async function grantEvents(
  ctx: Ctx,
  eventName: 'GrantCreated',
  patient: Address,
): Promise<Map<bigint, { by: Address; tokenIds: readonly bigint[] }>>
async function grantEvents(ctx: Ctx, eventName: 'GrantRevoked', patient: Address): Promise<Map<bigint, Address>>
async function grantEvents(ctx: Ctx, eventName: 'GrantCreated' | 'GrantRevoked', patient: Address): Promise<Map<bigint, unknown>> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    eventName,
    args: { patient },
    fromBlock: BigInt(ctx.deployment.deployedAtBlock),
    toBlock: 'latest',
  })
  const out = new Map<bigint, unknown>()
  for (const log of logs) {
    const args = log.args as { grantId?: bigint; grantor?: Address; tokenIds?: readonly bigint[]; revokedBy?: Address }
    if (args.grantId === undefined) continue
    out.set(
      args.grantId,
      eventName === 'GrantCreated' ? { by: getAddress(args.grantor!), tokenIds: args.tokenIds ?? [] } : getAddress(args.revokedBy!),
    )
  }
  return out
}
