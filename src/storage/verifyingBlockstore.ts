import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NotFoundError } from 'interface-store'
import { NextToLast } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'
import { checkBlock } from './blockHash.js'

/**
 * An on-disk blockstore that re-hashes every block it returns. Helia trusts its local blockstore;
 * medvault does not, so a block altered or swapped on disk is caught here, by its content
 * address, before any code decrypts it.
 */
export class VerifyingFsBlockstore extends FsBlockstore {
  /** blockstore-fs's default layout, passed in and kept to find a block's file (its own field is private). */
  private readonly layout: NextToLast

  constructor(location: string) {
    const layout = new NextToLast()
    super(location, { shardingStrategy: layout })
    this.layout = layout
  }

  /**
   * One readFile instead of blockstore-fs's 64 KiB read stream and a concat: a 1 MiB block is
   * read with a few large reads into one buffer, then hashed in the thread pool.
   */
  override async *get(key: CID, options?: Parameters<FsBlockstore['get']>[1]): AsyncGenerator<Uint8Array> {
    const { dir, file } = this.layout.encode(key)
    let block: Buffer
    try {
      block = await readFile(join(this.path, dir, file), options?.signal ? { signal: options.signal } : {})
    } catch (err) {
      options?.signal?.throwIfAborted()
      // The error Helia and the exporter look for (by name) when a block is not held.
      throw new NotFoundError(String(err))
    }
    await checkBlock(key, block)
    yield block
  }

  override async *getMany(
    source: Parameters<FsBlockstore['getMany']>[0],
    options?: Parameters<FsBlockstore['getMany']>[1],
  ): ReturnType<FsBlockstore['getMany']> {
    for await (const cid of source) yield { cid, bytes: this.get(cid, options) }
  }
}
