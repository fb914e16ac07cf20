/**
 * Stands in for src/chain/anvil.ts in the contract coverage run: anvil starts with step tracing
 * and no code size limit (instrumented, unoptimized contracts exceed EIP-170), and the returned
 * RPC URL is a tracing proxy in front of it. Everything else is the real module.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type EmbeddedChain, type StartAnvilParameters, startAnvil as startRealAnvil } from '../../src/chain/anvil.js'
import { startTracingProxy } from './proxy.js'

export * from '../../src/chain/anvil.js'

const dir = process.env.MEDVAULT_COVERAGE_DIR!
let started = 0

export async function startAnvil(params: StartAnvilParameters = {}): Promise<EmbeddedChain> {
  const node = await startRealAnvil({
    ...params,
    extraArgs: [...(params.extraArgs ?? []), '--steps-tracing', '--disable-code-size-limit', '--disable-block-gas-limit'],
  })
  const proxy = await startTracingProxy(node.rpcUrl, join(dir, 'instrumentation.json'))
  const id = `${process.pid}-${started++}`
  return {
    ...node,
    rpcUrl: proxy.url,
    async stop() {
      await proxy.close()
      await node.stop()
      mkdirSync(join(dir, 'hits'), { recursive: true })
      writeFileSync(
        join(dir, 'hits', `${id}.json`),
        JSON.stringify({ hits: proxy.hits(), failures: proxy.failures(), stats: proxy.stats() }),
      )
    },
  }
}
