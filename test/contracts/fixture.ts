/**
 * Shared fixture for the contract behaviour suites: one real anvil per test file, viem clients,
 * fresh deployments, funded throwaway accounts, EIP-712 consent signing and assertion helpers for
 * custom-error reverts and decoded events.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  getAddress,
  getContract,
  type Hash,
  type Hex,
  http,
  type Log,
  parseEther,
  parseEventLogs,
  type Transport,
  type TransactionReceipt,
  type WalletClient,
} from 'viem'
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { type EmbeddedChain, startAnvil } from '../../src/chain/anvil.js'
import { deployContracts } from '../../src/chain/deploy.js'
import { consentRegistryAbi, medicalRecordAbi, providerRegistryAbi } from '../../src/contracts/index.js'
import type { Category } from '../../src/core/categories.js'
import { buildTagTable, openTags, tagOf } from '../../src/core/categoryTags.js'

/** anvil's first well-known dev key (account 0, funded with 10000 ETH at genesis). */
export const ANVIL_DEV_KEY_0: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
/** anvil's second well-known dev key (account 1). */
export const ANVIL_DEV_KEY_1: Hex = '0x59c6995e998f97a5a0044966f0945389dc9c86dae88c7a8412f4603b6b78690d'

type RecordError = Extract<(typeof medicalRecordAbi)[number], { type: 'error' }>
const consentWithRecordErrorsAbi = [
  ...consentRegistryAbi,
  ...medicalRecordAbi.filter((item): item is RecordError => item.type === 'error'),
] as const

/**
 * Set by `npm run coverage`, which runs these suites against instrumented, unoptimized builds:
 * absolute gas figures (written for the optimized build) do not hold there, so the tests that
 * assert them skip (`{ skip: skipGasFigures }`) or leave out the absolute figure.
 */
export const UNDER_COVERAGE = process.env.MEDVAULT_COVERAGE === '1'
export const skipGasFigures: string | false = UNDER_COVERAGE ? 'gas figures are for the optimized build, not the coverage build' : false

export const ZERO_ADDRESS: Address = '0x0000000000000000000000000000000000000000'
export const ZERO_BYTES32: Hex = `0x${'00'.repeat(32)}`

/** ProviderRegistry.Status */
export const Status = { None: 0, Active: 1, Suspended: 2, Removed: 3 } as const

export type Env = Awaited<ReturnType<typeof startEnv>>

/** Starts anvil and the clients that talk to it. Call `env.stop()` in `after`. */
export async function startEnv() {
  const node: EmbeddedChain = await startAnvil()
  const chain: Chain = defineChain({
    id: node.chainId,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [node.rpcUrl] } },
  })
  const transport = http(node.rpcUrl)
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 })
  const testClient = createTestClient({ chain, transport, mode: 'anvil' })
  const admin = privateKeyToAccount(ANVIL_DEV_KEY_0)

  function wallet(account: Account): WalletClient<Transport, Chain, Account> {
    return createWalletClient({ chain, transport, account, pollingInterval: 50 })
  }

  /** A new random account holding 100 ETH. */
  async function newAccount(): Promise<PrivateKeyAccount> {
    const account = privateKeyToAccount(generatePrivateKey())
    await testClient.setBalance({ address: account.address, value: parseEther('100') })
    return account
  }

  /** Waits for the transaction and asserts it succeeded. */
  async function mined(hash: Hash | Promise<Hash>): Promise<TransactionReceipt> {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash, pollingInterval: 50 })
    assert.equal(receipt.status, 'success', `transaction ${receipt.transactionHash} reverted`)
    return receipt
  }

  async function latestTimestamp(): Promise<bigint> {
    return (await publicClient.getBlock({ blockTag: 'latest' })).timestamp
  }

  async function timestampOf(receipt: TransactionReceipt): Promise<bigint> {
    return (await publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp
  }

  /** Moves the chain clock forward by `seconds` and mines a block at the new time. */
  async function advance(seconds: number): Promise<bigint> {
    await testClient.increaseTime({ seconds })
    await testClient.mine({ blocks: 1 })
    return latestTimestamp()
  }

  /** Deploys a fresh ProviderRegistry + MedicalRecord pair with `admin` as deployer and registrar. */
  async function deploy() {
    const deployed = await deployContracts(wallet(admin), publicClient)
    // Receipts give lower-case addresses; decoded events and views give checksummed ones.
    const deployment = { ...deployed, registry: getAddress(deployed.registry), records: getAddress(deployed.records) }
    const registryAs = (account: Account) =>
      getContract({
        address: deployment.registry,
        abi: providerRegistryAbi,
        client: { public: publicClient, wallet: wallet(account) },
      })
    const recordsAs = (account: Account) =>
      getContract({
        address: deployment.records,
        abi: medicalRecordAbi,
        client: { public: publicClient, wallet: wallet(account) },
      })
    // ConsentRegistry calls MedicalRecord, so its reverts may carry MedicalRecord's errors too.
    const consentAs = (account: Account) =>
      getContract({
        address: getAddress(deployment.consent),
        abi: consentWithRecordErrorsAbi,
        client: { public: publicClient, wallet: wallet(account) },
      })
    /** A record's mint-time fields (commitment, CID, issue time, supersedes), from its RecordIssued event: storage keeps none of them. */
    const issuedOf = async (tokenId: bigint) => {
      const [log] = await publicClient.getContractEvents({
        address: deployment.records,
        abi: medicalRecordAbi,
        eventName: 'RecordIssued',
        args: { tokenId },
        fromBlock: 0n,
        strict: true,
      })
      assert.ok(log, `no RecordIssued event for token ${tokenId}`)
      return log.args
    }
    return {
      ...deployment,
      registry: registryAs(admin),
      records: recordsAs(admin),
      issuedOf,
      registryAs,
      recordsAs,
      consentAs,
    }
  }

  return {
    node,
    chain,
    chainId: node.chainId,
    publicClient,
    testClient,
    admin,
    wallet,
    newAccount,
    mined,
    latestTimestamp,
    timestampOf,
    advance,
    deploy,
    stop: () => node.stop(),
  }
}

export type Deployed = Awaited<ReturnType<Env['deploy']>>

/** Deterministic non-zero 32-byte value for readable tests. */
export function bytes32(n: number | bigint): Hex {
  return `0x${BigInt(n).toString(16).padStart(64, '0')}`
}

/** A random non-zero 32-byte value. */
export function randomBytes32(): Hex {
  return `0x${randomBytes(32).toString('hex')}`
}

/**
 * Asserts that `promise` rejects with a decoded custom error `errorName(args...)`, found by walking
 * viem's error chain to its ContractFunctionRevertedError.
 */
export async function expectRevert(promise: Promise<unknown>, errorName: string, args: readonly unknown[] = []): Promise<void> {
  let settled = false
  try {
    await promise
    settled = true
  } catch (err) {
    assert.ok(err instanceof BaseError, `expected a viem error, got ${String(err)}`)
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError)
    assert.ok(revert instanceof ContractFunctionRevertedError, `expected a contract revert, got: ${err.shortMessage}`)
    assert.equal(revert.data?.errorName, errorName, `expected ${errorName}, got: ${revert.shortMessage}`)
    assert.deepEqual(revert.data?.args ?? [], args, `${errorName} arguments`)
  }
  assert.equal(settled, false, `expected a revert with ${errorName}, but the call succeeded`)
}

/** Decodes the receipt's logs and asserts exactly one `eventName` was emitted by `address`; returns its args. */
export function expectEvent<const abi extends Abi, eventName extends string>(
  receipt: TransactionReceipt,
  abi: abi,
  address: Address,
  eventName: eventName,
) {
  const logs = parseEventLogs({ abi, logs: receipt.logs as Log[], eventName: eventName as never }).filter(
    (log) => log.address.toLowerCase() === address.toLowerCase(),
  )
  assert.equal(logs.length, 1, `expected one ${eventName} event, got ${logs.length}`)
  return (logs[0] as unknown as { args: Record<string, unknown> }).args
}

/** Names of every event `abi` decodes from the receipt, in log order. */
export function eventNames(receipt: TransactionReceipt, abi: Abi): string[] {
  return parseEventLogs({ abi, logs: receipt.logs as Log[] }).map((log) => (log as { eventName: string }).eventName)
}

// ------------------------------------------------------------------------ MedicalRecord helpers

export const MINT_CONSENT_TYPES = {
  MintConsent: [
    { name: 'patient', type: 'address' },
    { name: 'provider', type: 'address' },
    { name: 'commitment', type: 'bytes32' },
    { name: 'tag', type: 'bytes8' },
    { name: 'supersedes', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const

export type MintConsentMessage = {
  patient: Address
  provider: Address
  commitment: Hex
  tag: Hex
  supersedes: bigint
  nonce: bigint
  deadline: bigint
}

/** `signer` signs an EIP-712 MintConsent for the medvault domain of `records` on `chainId`. */
export async function signMintConsent(
  signer: PrivateKeyAccount,
  domain: { chainId: number; verifyingContract: Address },
  message: MintConsentMessage,
): Promise<Hex> {
  return signer.signTypedData({
    domain: { name: 'medvault', version: '1', chainId: domain.chainId, verifyingContract: domain.verifyingContract },
    types: MINT_CONSENT_TYPES,
    primaryType: 'MintConsent',
    message,
  })
}

export type MintRequest = {
  patient: Address
  commitment: Hex
  cidDigest: Hex
  cidCodec: number
  tag: Hex
}

/** The tag `mintRequest` uses unless told otherwise; the contracts treat every non-zero tag alike until a patient opens it. */
export const DEFAULT_TAG: Hex = '0x1ab0000000000001'

/** Deterministic non-zero 8-byte tag for readable tests. */
export function tag8(n: number | bigint): Hex {
  return `0x${BigInt(n).toString(16).padStart(16, '0')}`
}

/** A random non-zero 8-byte tag. */
export function randomTag(): Hex {
  const tag = `0x${randomBytes(8).toString('hex')}` as Hex
  return BigInt(tag) === 0n ? randomTag() : tag
}

/**
 * A patient's real tag table (src/core/categoryTags.ts) from a fresh random secret: `tag(category,
 * flags)` and `open` (the classes without a flag, as a client registers them with setOpenTags).
 */
export function patientTags() {
  const table = buildTagTable(randomBytes(32))
  return {
    table,
    open: openTags(table),
    tag(category: Category, sensitivity = 0): Hex {
      const found = tagOf(table, category, sensitivity)
      assert.ok(found, `no tag for ${category} with flags ${sensitivity}`)
      return found
    },
  }
}

/** A valid request for `patient` with random commitment and digest, tagged DEFAULT_TAG. */
export function mintRequest(patient: Address, overrides: Partial<MintRequest> = {}): MintRequest {
  return {
    patient,
    commitment: randomBytes32(),
    cidDigest: randomBytes32(),
    cidCodec: 0x55,
    tag: DEFAULT_TAG,
    ...overrides,
  }
}

/** Registers a fresh funded account as an active provider; returns the account. */
export async function registerProvider(env: Env, d: Deployed, name = 'Lab A'): Promise<PrivateKeyAccount> {
  const provider = await env.newAccount()
  await env.mined(d.registry.write.register([provider.address, name, randomBytes32()]))
  return provider
}

/** `patient`'s EIP-712 consent for `provider` to mint `request` (or amend `supersedes`): current nonce, an hour to use it. */
export async function consentFor(
  env: Env,
  d: Deployed,
  provider: PrivateKeyAccount,
  patient: PrivateKeyAccount,
  request: MintRequest,
  supersedes = 0n,
): Promise<{ deadline: bigint; consent: Hex }> {
  const deadline = (await env.latestTimestamp()) + 3600n
  const nonce = await d.records.read.nonces([patient.address])
  const consent = await signMintConsent(
    patient,
    { chainId: env.chainId, verifyingContract: d.records.address },
    {
      patient: patient.address,
      provider: provider.address,
      commitment: request.commitment,
      tag: request.tag,
      supersedes,
      nonce,
      deadline,
    },
  )
  return { deadline, consent }
}

/**
 * Has `patient` sign a consent for `request` (current nonce, deadline an hour ahead) and lets
 * `provider` mint it (or amend `supersedes` if non-zero). Returns the receipt and new token id.
 */
export async function mintWithConsent(
  env: Env,
  d: Deployed,
  provider: PrivateKeyAccount,
  patient: PrivateKeyAccount,
  request: MintRequest,
  supersedes = 0n,
): Promise<{ receipt: TransactionReceipt; tokenId: bigint }> {
  const { deadline, consent } = await consentFor(env, d, provider, patient, request, supersedes)
  const records = d.recordsAs(provider)
  const hash =
    supersedes === 0n ? records.write.mint([request, deadline, consent]) : records.write.amend([supersedes, request, deadline, consent])
  const receipt = await env.mined(hash)
  const issued = expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordIssued')
  return { receipt, tokenId: issued.tokenId as bigint }
}
