/**
 * A TCP proxy that makes a JSON-RPC node slow: each chunk, either way, waits a random delay in a
 * range before it is passed on (in order), or is held while the proxy is stalled (a node that
 * accepts connections and never answers). It counts the HTTP requests clients send, so a test can
 * see how often a client retried.
 */
import { type Socket, createConnection, createServer } from 'node:net'

export type DelayProxy = {
  url: string
  /** Delay per chunk in ms, drawn uniformly from [min, max]; [0, 0] passes chunks at once. */
  setDelay(min: number, max: number): void
  /** While stalled, nothing is passed on either way; chunks held are passed on once it is released. */
  stall(on: boolean): void
  /** HTTP requests (POST lines) received from clients since the last `resetCount`. */
  requests(): number
  resetCount(): void
  close(): Promise<void>
}

export async function startDelayProxy(target: { host: string; port: number }): Promise<DelayProxy> {
  let delay: [number, number] = [0, 0]
  let stalled = false
  let released: Promise<void> = Promise.resolve()
  let release = () => {}
  let requests = 0
  const sockets = new Set<Socket>()

  const pause = () => {
    const [min, max] = delay
    const ms = min + Math.random() * (max - min)
    return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()
  }

  /** Passes `from`'s chunks to `to` in order, each after its delay and any stall. */
  const pipe = (from: Socket, to: Socket, count: boolean) => {
    let tail: Promise<unknown> = Promise.resolve()
    let text = ''
    from.on('data', (chunk: Buffer) => {
      if (count) {
        text = text + chunk.toString('latin1')
        requests += text.match(/POST \S+ HTTP\/1\.[01]\r\n/g)?.length ?? 0
        text = text.slice(-40)
      }
      tail = tail.then(async () => {
        await pause()
        await released
        if (!to.destroyed) to.write(chunk)
      })
    })
    from.on('end', () => void tail.then(() => to.end()))
  }

  const server = createServer((client) => {
    const upstream = createConnection(target)
    sockets.add(client).add(upstream)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    pipe(client, upstream, true)
    pipe(upstream, client, false)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address !== 'object') throw new Error('the proxy has no port')

  return {
    url: `http://127.0.0.1:${address.port}`,
    setDelay(min, max) {
      delay = [min, max]
    },
    stall(on) {
      if (on && !stalled) released = new Promise<void>((resolve) => (release = resolve))
      if (!on) release()
      stalled = on
    },
    requests: () => requests,
    resetCount() {
      requests = 0
    },
    async close() {
      release()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
