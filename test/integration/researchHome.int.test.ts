/**
 * A home created before the research market existed (its config has no `deployment.research`)
 * still loads, and on the embedded chain the market is deployed next to its contracts and saved.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { getAddress } from 'viem'
import { researchMarketAbi } from '../../src/contracts/index.js'
import { openMedvault } from '../../src/home/openMedvault.js'

describe('research market in an existing home', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-research-home-'))
  after(() => rmSync(home, { recursive: true, force: true }))

  it('deploys ResearchMarket into an embedded home whose config predates it, and saves its address', async () => {
    let mv = await openMedvault({ home })
    const original = mv.deployment
    assert.ok(original.research, 'a new home gets the market with the other contracts')
    await mv.close()

    const configPath = join(home, 'config.json')
    const config = JSON.parse(readFileSync(configPath, 'utf8'))
    delete config.deployment.research
    writeFileSync(configPath, JSON.stringify(config, null, 2))

    mv = await openMedvault({ home })
    try {
      const research = mv.deployment.research
      assert.ok(research, 'the market is deployed on open')
      assert.equal(mv.deployment.records, original.records, 'the other contracts stay')
      assert.equal(
        getAddress(await mv.publicClient.readContract({ address: research, abi: researchMarketAbi, functionName: 'records' })),
        getAddress(original.records),
      )
      assert.equal(
        getAddress(await mv.publicClient.readContract({ address: research, abi: researchMarketAbi, functionName: 'registry' })),
        getAddress(original.registry),
      )
      assert.equal(JSON.parse(readFileSync(configPath, 'utf8')).deployment.research, research, 'and saved in config.json')
    } finally {
      await mv.close()
    }
  })
})
