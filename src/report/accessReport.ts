/**
 * The access report: what medvault can tell a patient about their records and everyone who
 * reached them (HIPAA accounting of disclosures, 45 CFR 164.528; GDPR art. 15). Plain JSON: ids
 * as decimal strings, times as ISO 8601, so `JSON.stringify` is the JSON rendering.
 */
import type { Address } from 'viem'

export const ACCESS_REPORT_VERSION = 1

/** An account as the report names it: its address, and a name where one is known. */
export type ReportParty = {
  address: Address
  /** The provider's registered name, or the account's name in this home. */
  name?: string
  /** Whether the account is a registered provider (an organisation). */
  provider?: boolean
}

export type ReportRecord = {
  tokenId: string
  category: string
  /** Sensitivity flags by name (mental-health, substance-use, ...). */
  sensitive: string[]
  issuer: ReportParty
  issuedAt: string
  /** The record this one corrects. */
  amends?: string
  /** The record that corrected this one. */
  amendedBy?: string
  /** When the patient erased it. */
  erasedAt?: string
}

export type ReportGrant = {
  grantId: string
  grantee: ReportParty
  /** Who made the grant: the patient, or a delegate. */
  grantedBy: ReportParty
  scope: 'records' | 'categories' | 'all'
  /** The listed records (scope `records`). */
  records?: string[]
  /** The categories (scope `categories`; every category for `all`). */
  categories?: string[]
  /** Sensitivity flags the grant names (only those sensitive records are covered). */
  sensitive: string[]
  purpose: string
  from: string
  until: string
  revokedAt?: string
  revokedBy?: ReportParty
  status: 'active' | 'expired' | 'revoked'
}

export type ReportAccess = {
  /** Position in the node's access log. */
  seq: number
  at: string
  actor: ReportParty
  action: string
  tokenId?: string
  outcome: 'allowed' | 'denied'
  /** A short code: owner, grant, escrow, no-grant, erased, ... */
  reason?: string
  purpose?: string
  /** Set when the actor held an open emergency (break-glass) window at the time. */
  emergency?: boolean
  /** The patient's own action. */
  self?: boolean
}

export type ReportEmergency = {
  provider: ReportParty
  openedAt: string
  until: string
  /** The salted commitment to the stated reason that is on chain (the text stays with the provider). */
  reasonHash: string
  /**
   * The commitment's salt, when this node keeps it: with it, a reason the provider states can be
   * checked, `keccak256(abi.encode("medvault.emergency-reason.v1", salt, reason)) == reasonHash`.
   */
  reasonSalt?: string
  open: boolean
  /** Access-log entries by this provider on this patient's records during the window. */
  accesses: number
}

export type AccessReport = {
  version: typeof ACCESS_REPORT_VERSION
  title: string
  generatedAt: string
  patient: ReportParty
  source: {
    chainId: number
    records: Address
    consent: Address
    /** The chain height the report was read at. */
    block: string
    /** The node whose access log is reported, and whether that log checked out against its anchors on chain. */
    auditLog: { node: Address; entries: number; intact: boolean; anchoredThrough?: number; problems: number }
  }
  summary: {
    records: number
    erasedRecords: number
    grants: number
    activeGrants: number
    revocations: number
    accesses: number
    allowed: number
    denied: number
    /** Accesses by others (not the patient's own). */
    disclosures: number
    emergencyAccesses: number
  }
  records: ReportRecord[]
  grants: ReportGrant[]
  emergencies: ReportEmergency[]
  accesses: ReportAccess[]
}
