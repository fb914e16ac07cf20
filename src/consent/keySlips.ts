/**
 * Key slips: a record key wrapped (HPKE) to one grantee, kept apart from the immutable envelope so
 * it can be created after the fact (at grant time) and handed out only after the chain says the
 * grantee may read (`canAccess`). A slip is useless to anyone but its grantee, and is bound to the
 * record's CID and the grantee's address.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, getAddress } from 'viem'
import { type KeySlipStore, keySlipSchema as slipSchema } from '../core/index.js'

export type { KeySlip, KeySlipStore } from '../core/index.js'
export { unwrapKeySlip, wrapKeySlip } from '../core/index.js'

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
    async delete(tokenId) {
      const folder = join(dir, tokenId.toString())
      if (!existsSync(folder)) return 0
      const slips = readdirSync(folder).filter((f) => f.endsWith('.json')).length
      rmSync(folder, { recursive: true, force: true })
      return slips
    },
  }
}
