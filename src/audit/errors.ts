import { MedvaultError } from '../errors.js'

/**
 * The audit log is damaged, was tampered with, or does not match what was anchored on chain. Like
 * TamperedRecordError it exits with 4; its message names entries by sequence number, never content.
 */
export class AuditLogError extends MedvaultError {
  override name = 'AuditLogError'
  override readonly code = 'AUDIT_LOG'
  override readonly exitCode = 4
}
