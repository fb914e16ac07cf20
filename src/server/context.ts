import type { Address } from 'viem'
import type { AuditLog } from '../audit/index.js'
import type { RecordsContext } from '../core/index.js'
import type { OnChainRecord } from '../records/index.js'
import type { Session, SessionTokens } from './auth/sessionToken.js'
import type { SiweAuth } from './auth/siwe.js'
import type { Keyring } from './keyring.js'

/** What the server reads from its index; the chain is still asked before anything is served. */
export interface RecordIndex {
  /** A patient's records as the index last saw them on chain, oldest first (amended ones included). */
  recordsOf(patient: Address): Promise<OnChainRecord[]>
  /** Patients with an active grant to `grantee`, and when the latest of them ends. */
  patientsSharingWith(grantee: Address): Promise<{ patient: Address; until: Date }[]>
}

export type ServerLimits = {
  /** Largest request body accepted, in bytes. */
  bodyBytes: number
  /** Requests per minute per account (per client address before sign-in). */
  requestsPerMinute: number
}

/** Everything the HTTP server needs, passed in so a test can hand it a real stack. */
export type ServerDeps = {
  ctx: RecordsContext
  auditLog: AuditLog
  index: RecordIndex
  keyring: Keyring
  siwe: SiweAuth
  tokens: SessionTokens
  limits: ServerLimits
  /** SMART Health Card issuers: their URLs' base, and the revocation lists this node keeps. */
  healthCards: { issuerBaseUrl: string; crlDir?: string }
  /** Where bulk imports keep their journals (`<home>/imports`). */
  importsDir: string
  /** Where the salts of break-glass reasons are kept (`<home>/emergencies`), for the patient's access report. */
  emergencyReasonsDir: string
  /** Where single operations (a record issued over REST) keep their journals (`<home>/operations`), shared with the CLI; erasure destroys the record keys they keep. */
  operationsDir: string
  /** Brings the server's index up to the chain after a write; a failure is only reported (the index is a cache). */
  syncIndex?: () => Promise<void>
  /** Public origin the server is reached at (for SIWE `uri` and FHIR `fullUrl`s). */
  baseUrl: string
  /** The built web portal to serve at `/` (`dist/web`); none when absent. */
  webRoot?: string
  /**
   * Gives a new account what it needs for gas on the embedded development chain, as `medvault
   * account create` does there (anvil_setBalance); absent on any other chain, where the account
   * must be funded from outside.
   */
  fundNewAccount?: (address: Address) => Promise<void>
  /** Error lines for the operator. Never request bodies: they may hold health data. */
  logError?: (line: string) => void
}

export type ServerEnv = {
  Variables: { session: Session | undefined }
  Bindings: { incoming?: { socket?: { remoteAddress?: string } } }
}
