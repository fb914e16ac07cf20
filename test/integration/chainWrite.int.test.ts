/**
 * The one chain writer (src/chain/write.ts) on a real anvil: a transaction that is mined but
 * reverted must raise, whichever module sent it. directory.ts used to wait for the receipt without
 * looking at its status, so a provider registration that reverted on chain was reported as done.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Account, Chain, Transport, WalletClient } from 'viem'
import { deployContracts, type Deployment } from '../../src/chain/deploy.js'
import { deployAndWait, writeForEvent } from '../../src/chain/index.js'
import { medicalRecordAbi, medicalRecordBytecode, providerRegistryAbi } from '../../src/contracts/index.js'
import { registerProvider, setProviderStatus } from '../../src/directory/index.js'
import { ChainError, InvalidInputError } from '../../src/errors.js'
import { type Env, startEnv } from '../contracts/fixture.js'

/** A wallet that sends with a fixed gas limit, so viem skips estimation and the chain itself decides. */
function withGas(wallet: WalletClient<Transport, Chain, Account>, gas: bigint): WalletClient<Transport, Chain, Account> {
  return { ...wallet, writeContract: (args) => wallet.writeContract({ ...args, gas } as typeof args) }
}

describe('writeAndWait: every write checks its receipt', () => {
  let env: Env
  let deployment: Deployment
  before(async () => {
    env = await startEnv()
    deployment = await deployContracts(env.wallet(env.admin), env.publicClient)
  })
  after(() => env.stop())

  const ctx = (gas?: bigint) => ({
    publicClient: env.publicClient,
    walletFor: (account: Account) => (gas ? withGas(env.wallet(account), gas) : env.wallet(account)),
    deployment,
  })

  it('a provider registration mined but reverted (out of gas) raises, and registers nobody', async () => {
    const provider = await env.newAccount()
    await assert.rejects(
      registerProvider(ctx(60_000n), env.admin, {
        provider: provider.address,
        name: 'Low Gas Clinic',
        encryptionKey: `0x${'ab'.repeat(32)}`,
      }),
      (error: unknown) => error instanceof ChainError && /mined but reverted/.test(error.message),
    )
    const registered = await env.publicClient.readContract({
      address: deployment.registry,
      abi: providerRegistryAbi,
      functionName: 'providerCount',
    })
    assert.equal(registered, 0n)
  })

  it('a reverted transaction is replayed at its block to name the contract reason', async () => {
    const provider = await env.newAccount()
    const params = { provider: provider.address, name: 'Twice Clinic', encryptionKey: `0x${'cd'.repeat(32)}` } as const
    await registerProvider(ctx(), env.admin, params)
    // Enough gas and no estimation: the chain, not the estimate, refuses the second registration.
    await assert.rejects(
      registerProvider(ctx(500_000n), env.admin, params),
      (error: unknown) => error instanceof InvalidInputError && /already in the provider registry/.test(error.message),
    )
  })

  it('a refusal at estimation still maps through the one error table', async () => {
    const stranger = await env.newAccount()
    await assert.rejects(setProviderStatus(ctx(), env.admin, stranger.address, 'suspend'), (error: unknown) => {
      return error instanceof Error && /is not in the provider registry/.test(error.message)
    })
  })

  it('a contract creation mined but reverted (out of gas) raises, though its receipt names an address', async () => {
    const wallet = env.wallet(env.admin)
    // Above the intrinsic cost of the creation, far below storing MedicalRecord's code: mined, reverted.
    const request = { abi: medicalRecordAbi, bytecode: medicalRecordBytecode, args: [deployment.registry], gas: 1_500_000n } as const
    await assert.rejects(
      deployAndWait(wallet, env.publicClient, 'MedicalRecord', request),
      (error: unknown) => error instanceof ChainError && /Deploying MedicalRecord failed: .* was mined but reverted/.test(error.message),
    )
    // What the deploy code used to look at: the receipt, which names an address where no code is.
    const hash = await wallet.deployContract(request)
    const receipt = await env.publicClient.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'reverted')
    if (receipt.contractAddress) assert.equal(await env.publicClient.getCode({ address: receipt.contractAddress }), undefined)
  })

  it("writeForEvent returns the called contract's event, and raises when the transaction emitted none", async () => {
    const provider = await env.newAccount()
    const request = (name: string) =>
      ({
        address: deployment.registry,
        abi: providerRegistryAbi,
        functionName: 'register',
        args: [provider.address, name, `0x${'ef'.repeat(32)}`],
      }) as const
    const { event, receipt } = await writeForEvent(ctx(), env.admin, request('Event Clinic'), 'ProviderRegistered')
    assert.equal(event.args.provider, provider.address)
    assert.equal(event.transactionHash, receipt.transactionHash)
    const other = await env.newAccount()
    await assert.rejects(
      writeForEvent(
        ctx(),
        env.admin,
        { ...request('Other Clinic'), args: [other.address, 'Other Clinic', `0x${'ef'.repeat(32)}`] },
        'ProviderSuspended',
      ),
      (error: unknown) => error instanceof ChainError && /register transaction .* emitted no ProviderSuspended event/.test(error.message),
    )
  })
})
