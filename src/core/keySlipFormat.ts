/**
 * Key slips without Node: their schema, the HPKE context they are bound to (the record's CID and
 * the grantee's address), wrapping and unwrapping. keySlips.ts stores them on disk; the web
 * portal wraps them in the patient's browser when the patient shares, and opens them in the
 * grantee's browser.
 */
import { type Address, type Hex, bytesToHex, getAddress, hexToBytes } from 'viem'
import { z } from 'zod'
import { unwrapKey, wrapKey } from '../crypto/index.js'

const hex = z.string().regex(/^0x[0-9a-f]*$/i)
export const keySlipSchema = z.object({
  v: z.literal(1),
  tokenId: z.string().regex(/^\d+$/),
  cid: z.string(),
  grantee: hex,
  enc: hex,
  ct: hex,
  wrappedBy: hex,
  createdAt: z.string(),
})
export type KeySlip = z.infer<typeof keySlipSchema>

const aad = (cid: string, grantee: Address) => new TextEncoder().encode(`medvault/keyslip/${cid}/${grantee.toLowerCase()}`)

/** Wraps a record key to a grantee's X25519 public key. */
export async function wrapKeySlip(params: {
  recordKey: Uint8Array
  tokenId: bigint
  cid: string
  grantee: Address
  granteeKey: Hex
  wrappedBy: Address
}): Promise<KeySlip> {
  const grantee = getAddress(params.grantee)
  const wrapped = await wrapKey(hexToBytes(params.granteeKey), params.recordKey, aad(params.cid, grantee))
  return {
    v: 1,
    tokenId: params.tokenId.toString(),
    cid: params.cid,
    grantee,
    enc: bytesToHex(wrapped.enc),
    ct: bytesToHex(wrapped.ct),
    wrappedBy: getAddress(params.wrappedBy),
    createdAt: new Date().toISOString(),
  }
}

/** Unwraps a slip with the grantee's encryption seed; the CID must be the record's current one. */
export function unwrapKeySlip(slip: KeySlip, reader: { address: Address; encryptionSeed: Uint8Array }, cid: string): Promise<Uint8Array> {
  return unwrapKey(
    reader.encryptionSeed,
    { enc: hexToBytes(slip.enc as Hex), ct: hexToBytes(slip.ct as Hex) },
    aad(cid, getAddress(reader.address)),
  )
}

/** Where slips are kept (on disk in a home: consent/keySlips.ts). */
export interface KeySlipStore {
  put(slip: KeySlip): Promise<void>
  /** Puts several at once (one transaction where the store has them): an import writes a batch's slips together. */
  putMany(slips: readonly KeySlip[]): Promise<void>
  get(tokenId: bigint, grantee: Address): Promise<KeySlip | undefined>
  /** Grantees holding a slip for the record. */
  holders(tokenId: bigint): Promise<Address[]>
  /** Every slip wrapped to `grantee`, in token order (a backup of the grantee's account takes them). */
  slipsFor(grantee: Address): Promise<KeySlip[]>
  /**
   * Deletes every slip of the record (grantees' and the escrow's, and any half-written one).
   * Returns how many slips there were; 0 when none are left, so it can be run again.
   */
  delete(tokenId: bigint): Promise<number>
}
