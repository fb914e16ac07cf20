import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NotFoundError, PutFailedError } from 'interface-store'
import { NextToLast } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'
import { checkBlock } from './blockHash.js'

/**
 * Blocks up to this size are written and looked up with synchronous calls on the event loop: most
 * FHIR records are one block of a few KiB, and for those the thread-pool round trips of
 * blockstore-fs's path (access, mkdir, open, write, close, rename, each a promise) cost more of
 * the event loop than the system calls themselves (docs/benchmarks.md#import). Larger blocks (the
 * 1 MiB leaves of imaging) keep the asynchronous path, which leaves the event loop to the
 * encryption while the disk works.
 */
export const SMALL_BLOCK = 64 * 1024

/**
 * An on-disk blockstore that re-hashes every block it returns. Helia trusts its local blockstore;
 * medvault does not, so a block altered or swapped on disk is caught here, by its content
 * address, before any code decrypts it.
 */
export class VerifyingFsBlockstore extends FsBlockstore {
  /** blockstore-fs's default layout, passed in and kept to find a block's file (its own field is private). */
  private readonly layout: NextToLast
  /** Shard folders known to exist, so a small put does not ask for each again. */
  private readonly shards = new Set<string>()
  private written = 0

  constructor(location: string) {
    const layout = new NextToLast()
    super(location, { shardingStrategy: layout })
    this.layout = layout
  }

  /**
   * A small block is written as blockstore-fs writes any block (to a temporary file, then renamed
   * over the final name, so a crash leaves the block whole or absent), but in three synchronous
   * calls instead of six asynchronous ones.
   */
  override async put(key: CID, value: Parameters<FsBlockstore['put']>[1], options?: Parameters<FsBlockstore['put']>[2]): Promise<CID> {
    if (!(value instanceof Uint8Array) || value.byteLength > SMALL_BLOCK) return super.put(key, value, options)
    options?.signal?.throwIfAborted()
    const { dir, file } = this.layout.encode(key)
    const shard = join(this.path, dir)
    const target = join(shard, file)
    // Unique per write: two writes of one block (the same bytes) may race, and the last rename wins.
    const temporary = `${target}.${process.pid}-${this.written++}.tmp`
    try {
      if (!this.shards.has(shard)) {
        mkdirSync(shard, { recursive: true })
        this.shards.add(shard)
      }
      try {
        writeFileSync(temporary, value)
      } catch (error) {
        // The shard folder went away under us (a repository restored or cleaned by hand): once more with it.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        mkdirSync(shard, { recursive: true })
        writeFileSync(temporary, value)
      }
      renameSync(temporary, target)
    } catch (error) {
      try {
        rmSync(temporary, { force: true })
      } catch {
        // nothing was written there (its folder is not one)
      }
      throw new PutFailedError(String(error))
    }
    return key
  }

  /** One stat on the event loop: Helia asks before every put, and the answer for a new record is always no. */
  override async has(key: CID, options?: Parameters<FsBlockstore['has']>[1]): Promise<boolean> {
    options?.signal?.throwIfAborted()
    const { dir, file } = this.layout.encode(key)
    return existsSync(join(this.path, dir, file))
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
