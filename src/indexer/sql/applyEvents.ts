import { zeroAddress } from 'viem'
import type { IndexEvent } from '../types.js'
import type { Journal } from './journal.js'

/** Writes decoded contract events, in chain order, through the journal. */
export async function applyEvents(journal: Journal, events: readonly IndexEvent[]): Promise<void> {
  for (const e of events) {
    const block = e.blockNumber
    switch (e.type) {
      case 'RecordIssued':
        await journal.put(block, 'records', {
          token_id: e.tokenId,
          patient: e.patient,
          issuer: e.issuer,
          tag: e.tag,
          issued_at: e.timestamp,
          cid: e.cid,
          commitment: e.commitment,
          supersedes: e.supersedes === 0n ? null : e.supersedes,
          superseded_by: null,
          erased_at: null,
          block_number: block,
          log_index: e.logIndex,
          tx_hash: e.txHash,
        })
        break
      case 'RecordAmended':
        await journal.patch(block, 'records', { token_id: e.tokenId }, { superseded_by: e.supersededBy })
        break
      case 'RecordErased':
        await journal.patch(block, 'records', { token_id: e.tokenId }, { erased_at: e.timestamp })
        break
      case 'RecordTransferred':
        // Mints are indexed from RecordIssued; a transfer is a key recovery moving the record to the patient's new account.
        if (e.from === zeroAddress) break
        if (e.to === zeroAddress) await journal.delete(block, 'records', { token_id: e.tokenId })
        else await journal.patch(block, 'records', { token_id: e.tokenId }, { patient: e.to })
        break
      case 'GrantCreated':
        await journal.put(block, 'grants', {
          grant_id: e.grantId,
          patient: e.patient,
          grantee: e.grantee,
          grantor: e.grantor,
          scope: e.scope,
          tags: e.tags.join(','),
          purpose: e.purpose,
          created_at: e.timestamp,
          expires_at: e.expiresAt,
          revoked_at: null,
          revoked_by: null,
          block_number: block,
          log_index: e.logIndex,
          tx_hash: e.txHash,
        })
        for (const tokenId of e.tokenIds) {
          await journal.put(block, 'grant_records', { grant_id: e.grantId, token_id: tokenId, block_number: block })
        }
        break
      case 'GrantRevoked':
        await journal.patch(block, 'grants', { grant_id: e.grantId }, { revoked_at: e.timestamp, revoked_by: e.revokedBy })
        break
      case 'GrantMoved':
        // Recovery or rotation: the successor took the grant over, same id and terms.
        await journal.patch(block, 'grants', { grant_id: e.grantId }, { patient: e.to })
        break
      case 'DelegateAdded':
        await journal.put(block, 'delegates', { patient: e.patient, delegate: e.delegate, added_at: e.timestamp, block_number: block })
        break
      case 'DelegateRemoved':
        await journal.delete(block, 'delegates', { patient: e.patient, delegate: e.delegate })
        break
      case 'EmergencyProviderSet':
        await journal.put(block, 'emergency_providers', {
          address: e.provider,
          allowed: e.allowed ? 1 : 0,
          updated_block: block,
          block_number: block,
        })
        break
      case 'EmergencyAccessOpened':
        await journal.put(block, 'emergency_accesses', {
          block_number: block,
          log_index: e.logIndex,
          patient: e.patient,
          provider: e.provider,
          opened_at: e.timestamp,
          open_until: e.until,
          reason_hash: e.reasonHash,
          tx_hash: e.txHash,
        })
        break
      case 'ProviderRegistered':
        await journal.put(block, 'providers', {
          address: e.provider,
          name: e.name,
          encryption_key: e.encryptionKey,
          status: 'active',
          registered_at: e.timestamp,
          updated_block: block,
          block_number: block,
          log_index: e.logIndex,
        })
        break
      case 'ProviderProfileUpdated':
        await journal.patch(
          block,
          'providers',
          { address: e.provider },
          { name: e.name, encryption_key: e.encryptionKey, updated_block: block },
        )
        break
      case 'ProviderStatusChanged':
        await journal.patch(block, 'providers', { address: e.provider }, { status: e.status, updated_block: block })
        break
    }
  }
}
