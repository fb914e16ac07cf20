/**
 * Local TCP ports for the embedded chain and the servers beside it.
 */
import { type Server, createServer } from 'node:net'

/** A port that was free a moment ago; another process may take it first, so bind with {@link listenPreferring} where you can. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/**
 * Binds `server` to `port` on `host` and returns the port it got. With `fallback`, a port another
 * process holds (EADDRINUSE) gives way to one the kernel picks: binding is the only check that
 * cannot race, where asking first whether the port is free leaves a gap in which two processes
 * starting together both hear yes and one of them then fails. Port 0 always means any free port.
 */
export async function listenPreferring(
  server: Pick<Server, 'listen' | 'once' | 'off' | 'address'>,
  port: number,
  host: string,
  options: { fallback: boolean },
): Promise<number> {
  const bind = (p: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        server.off('listening', onListening)
        reject(error)
      }
      const onListening = () => {
        server.off('error', onError)
        resolve()
      }
      server.once('error', onError)
      server.once('listening', onListening)
      server.listen(p, host)
    })
  try {
    await bind(port)
  } catch (error) {
    if (!options.fallback || port === 0 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
    await bind(0)
  }
  const address = server.address()
  if (typeof address !== 'object' || !address) throw new Error('the server is not listening on a TCP port')
  return address.port
}
