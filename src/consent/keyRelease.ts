/**
 * The emergency key escrow. Break-glass access happens without the patient, so someone other than
 * the patient must be able to hand out the record key: the medvault node. At issue time the issuer
 * wraps the key of every NON-sensitive record to the node's escrow key as well; when an emergency
 * provider asks, the node checks `canAccess` on chain itself, and only then re-wraps the key to
 * the provider. Sensitive records are never escrowed, so no node can ever release them.
 */
import { type Address, type Hex, getAddress } from 'viem'
import type { AccessRecorder, KeyReleaseService, RecordsContext } from '../core/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import { canAccess } from './grants.js'
import { type KeySlipStore, unwrapKeySlip, wrapKeySlip } from './keySlips.js'

export function createKeyReleaseService(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: {
    node: { address: Address; releaseSeed: Uint8Array; releasePublicKey: Hex }
    keySlips: KeySlipStore
    audit?: AccessRecorder
  },
): KeyReleaseService {
  const { node, keySlips, audit } = params
  return {
    escrow: { address: node.address, publicKey: node.releasePublicKey },
    async release({ tokenId, cid, requester }) {
      const escrowed = await keySlips.get(tokenId, node.address)
      if (!escrowed) return undefined
      const allowed = await canAccess(ctx, requester, tokenId)
      await audit?.record({
        actor: getAddress(requester),
        action: 'key-release',
        tokenId,
        outcome: allowed ? 'allowed' : 'denied',
        reason: allowed ? 'escrow' : 'no-grant',
      })
      if (!allowed) return undefined
      const granteeKey = await encryptionKeyOf(ctx, requester)
      if (!granteeKey) return undefined
      const recordKey = await unwrapKeySlip(escrowed, { address: node.address, encryptionSeed: node.releaseSeed }, cid)
      const slip = await wrapKeySlip({ recordKey, tokenId, cid, grantee: requester, granteeKey, wrappedBy: node.address })
      recordKey.fill(0)
      await keySlips.put(slip)
      return slip
    },
  }
}
