import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createTestClient, http } from 'viem'
import { type EmbeddedChain, startAnvil } from '../../src/chain/anvil.js'
import { medvault } from './cli.js'

const example = (name: string) => fileURLToPath(new URL(`../../examples/fhir/${name}`, import.meta.url))

describe('an external EVM chain by configuration (a separately started node with 1 s blocks)', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-ext-'))
  const mv = (...args: string[]) => medvault(home, args)
  let chain: EmbeddedChain

  before(async () => {
    chain = await startAnvil({ chainId: 4242, blockTime: 1 })
  })
  after(async () => {
    await chain.stop()
    rmSync(home, { recursive: true, force: true })
  })

  it('init, deploy, register, issue and read on the external chain', async () => {
    const init = await mv('init', '--rpc-url', chain.rpcUrl, '--chain-id', '4242', '--json')
    assert.equal(init.code, 0, init.stderr)
    assert.equal(init.json.config.chain.kind, 'rpc')

    const notDeployed = await mv('provider', 'list')
    assert.notEqual(notDeployed.code, 0)
    assert.match(notDeployed.stderr, /medvault deploy/)

    const test = createTestClient({ mode: 'anvil', transport: http(chain.rpcUrl) })
    for (const name of ['admin', 'lab', 'pat']) {
      const created = await mv('account', 'create', name, '--json')
      assert.equal(created.code, 0, created.stderr)
      assert.equal(created.json.account.funded, false, 'nothing is funded for free on an external chain')
      await test.setBalance({ address: created.json.account.address, value: 10n ** 18n })
    }
    const deploy = await mv('deploy', '--as', 'admin', '--json')
    assert.equal(deploy.code, 0, deploy.stderr)
    assert.equal(deploy.json.deployment.chainId, 4242)

    for (const name of ['lab', 'pat']) assert.equal((await mv('account', 'publish', name)).code, 0)
    const reg = await mv('provider', 'register', 'lab', '--name', 'External Lab', '--as', 'admin')
    assert.equal(reg.code, 0, reg.stderr)
    const noRegistrar = await mv('provider', 'register', 'pat', '--name', 'Not A Lab')
    assert.equal(noRegistrar.code, 2)
    assert.match(noRegistrar.stderr, /--as REGISTRAR_ACCOUNT/)

    const add = await mv('record', 'add', example('immunization.json'), '--patient', 'pat', '--as', 'lab', '--json')
    assert.equal(add.code, 0, add.stderr)
    const get = await mv('record', 'get', add.json.tokenId, '--as', 'pat', '--json')
    assert.equal(get.code, 0, get.stderr)
    assert.equal(get.json.document.resourceType, 'Immunization')
    const verify = await mv('record', 'verify', add.json.tokenId, '--json')
    assert.equal(verify.json.valid, true)
    assert.match(verify.json.checks[1].message, /External Lab/)
  })
})
