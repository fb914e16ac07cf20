import { createHash } from 'node:crypto'
import { FsBlockstore } from 'blockstore-fs'
import type { CID } from 'multiformats/cid'
import { TamperedRecordError } from '../errors.js'

const SHA2_256 = 0x12
const IDENTITY = 0x00

/**
 * An on-disk blockstore that re-hashes every block it returns. Helia trusts its local blockstore;
 * medvault does not, so a block altered or swapped on disk is caught here, by its content
 * address, before any code decrypts it.
 */
export class VerifyingFsBlockstore extends FsBlockstore {
  override async *get(key: CID, options?: Parameters<FsBlockstore['get']>[1]): AsyncGenerator<Uint8Array> {
    const parts: Uint8Array[] = []
    for await (const part of super.get(key, options)) parts.push(part)
    const block = Buffer.concat(parts)
    checkBlock(key, block)
    yield block
  }

  override async *getMany(
    source: Parameters<FsBlockstore['getMany']>[0],
    options?: Parameters<FsBlockstore['getMany']>[1],
  ): ReturnType<FsBlockstore['getMany']> {
    for await (const cid of source) yield { cid, bytes: this.get(cid, options) }
  }
}

function checkBlock(cid: CID, block: Uint8Array): void {
  const { code, digest } = cid.multihash
  if (code === IDENTITY) return
  if (code !== SHA2_256) return // other hash functions are never written by medvault
  const actual = createHash('sha256').update(block).digest()
  if (!actual.equals(digest)) {
    throw new TamperedRecordError(`A stored block does not match its content address ${cid.toString()}.`, {
      hint: 'The local IPFS repository was altered or damaged; fetch the record again from another node or a backup.',
    })
  }
}
