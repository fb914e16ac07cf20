/** Reads exact byte counts from the front of an async byte stream, then hands over the rest. */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>
  private buffered: Buffer = Buffer.alloc(0)

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]()
  }

  /** The next `n` bytes, or fewer if the stream ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      const { value, done } = await this.iterator.next()
      if (done) break
      this.buffered = Buffer.concat([this.buffered, value])
    }
    const out = this.buffered.subarray(0, n)
    this.buffered = this.buffered.subarray(n)
    return out
  }

  /** Everything after what was read. */
  async *rest(): AsyncGenerator<Uint8Array> {
    if (this.buffered.length > 0) yield this.buffered
    this.buffered = Buffer.alloc(0)
    while (true) {
      const { value, done } = await this.iterator.next()
      if (done) return
      yield value
    }
  }
}
