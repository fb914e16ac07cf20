import assert from 'node:assert/strict'
import { createServer as createHttpServer } from 'node:http'
import { type AddressInfo, createServer } from 'node:net'
import { describe, it } from 'node:test'
import { listenPreferring } from './ports.js'

async function holdPort(): Promise<{ port: number; release(): void }> {
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  return { port: (holder.address() as AddressInfo).port, release: () => holder.close() }
}

describe('listenPreferring', () => {
  it('binds the port asked for when it is free', async () => {
    const { port, release } = await holdPort()
    release()
    await new Promise((r) => setTimeout(r, 10))
    const server = createHttpServer()
    try {
      assert.equal(await listenPreferring(server, port, '127.0.0.1', { fallback: true }), port)
    } finally {
      server.close()
    }
  })

  it('takes a free port when the one asked for is held, and only with fallback', async () => {
    const held = await holdPort()
    const server = createHttpServer((_, res) => res.end('here'))
    try {
      await assert.rejects(listenPreferring(server, held.port, '127.0.0.1', { fallback: false }), { code: 'EADDRINUSE' })
      const port = await listenPreferring(server, held.port, '127.0.0.1', { fallback: true })
      assert.notEqual(port, held.port)
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'here')
    } finally {
      server.close()
      held.release()
    }
  })
})
