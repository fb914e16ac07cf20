/**
 * Key slips: a record key wrapped (HPKE) to one grantee, kept apart from the immutable envelope so
 * it can be created after the fact (at grant time) and handed out only after the chain says the
 * grantee may read (`canAccess`). A slip is useless to anyone but its grantee, and is bound to the
 * record's CID and the grantee's address.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, type Hex, bytesToHex, getAddress, hexToBytes } from 'viem'
import { z } from 'zod'
import { unwrapKey, wrapKey } from '../crypto/index.js'

const hex = z.string().regex(/^0x[0-9a-f]*$/i)
const slipSchema = z.object({
  v: z.literal(1),
  tokenId: z.string().regex(/^\d+$/),
  cid: z.string(),
  grantee: hex,
  enc: hex,
  ct: hex,
  wrappedBy: hex,
  createdAt: z.string(),
})
export type KeySlip = z.infer<typeof slipSchema>

export interface KeySlipStore {
  put(slip: KeySlip): Promise<void>
  get(tokenId: bigint, grantee: Address): Promise<KeySlip | undefined>
  /** Grantees holding a slip for the record. */
  holders(tokenId: bigint): Promise<Address[]>
}

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

/** Slips as files under `<dir>/<tokenId>/<grantee>.json`, written atomically. */
export function createFileKeySlipStore(dir: string): KeySlipStore {
  const fileOf = (tokenId: bigint, grantee: Address) => join(dir, tokenId.toString(), `${getAddress(grantee)}.json`)
  return {
    async put(slip) {
      const file = fileOf(BigInt(slip.tokenId), slip.grantee as Address)
      mkdirSync(join(dir, slip.tokenId), { recursive: true, mode: 0o700 })
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, `${JSON.stringify(slip)}\n`, { mode: 0o600 })
      renameSync(tmp, file)
    },
    async get(tokenId, grantee) {
      const file = fileOf(tokenId, grantee)
      if (!existsSync(file)) return undefined
      const parsed = slipSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')))
      if (!parsed.success) {
        rmSync(file, { force: true }) // a damaged slip is re-created by the next key release
        return undefined
      }
      return parsed.data
    },
    async holders(tokenId) {
      const folder = join(dir, tokenId.toString())
      if (!existsSync(folder)) return []
      return readdirSync(folder)
        .filter((f) => f.endsWith('.json'))
        .map((f) => getAddress(f.slice(0, -5)))
    },
  }
}
