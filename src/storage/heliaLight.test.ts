import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createHeliaLight } from 'helia'
import { loadHeliaLight } from './heliaLight.js'

describe('loadHeliaLight', () => {
  it("loads the Helia class without the package's networking modules, the same node as createHeliaLight", async () => {
    const light = await loadHeliaLight()
    assert.equal(light.fast, true, 'the installed helia no longer has dist/src/helia.js: the CLI loads ~1 s slower')
    // In-memory stores by default; no brokers or routers, as the embedded store runs it.
    const ours = light.create({ blockBrokers: [], routers: [] })
    const theirs = createHeliaLight({ blockBrokers: [], routers: [] })
    assert.equal(ours.constructor, theirs.constructor)
    await ours.start()
    const block = new TextEncoder().encode('a block')
    const { CID } = await import('multiformats/cid')
    const { sha256 } = await import('multiformats/hashes/sha2')
    const cid = CID.createV1(0x55, await sha256.digest(block))
    await ours.blockstore.put(cid, block)
    assert.equal(await ours.blockstore.has(cid), true)
    await ours.stop()
  })
})
