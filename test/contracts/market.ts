/**
 * ResearchMarket helpers shared by the behaviour suite and the property test: a deployment with an
 * approved researcher and a provider, records minted to many patients in one batch, study terms,
 * posting in native currency or the test stablecoin, and the escrow invariant.
 */
import assert from 'node:assert/strict'
import { type Account, type Address, encodeFunctionData, getAddress, getContract, type Hex, parseEventLogs } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { medicalRecordAbi, researchMarketAbi } from '../../src/contracts/index.js'
import { reentrantTokenAbi, reentrantTokenBytecode, testStablecoinAbi, testStablecoinBytecode } from '../../src/contracts/testing.js'
import { categoryName, requiredSensitivity } from '../../src/core/categories.js'
import { type Deployed, type Env, mintRequest, patientTags, randomBytes32, registerProvider, ZERO_ADDRESS } from './fixture.js'

type TokenError = Extract<(typeof testStablecoinAbi)[number], { type: 'error' }>

/** The market's ABI plus the ERC-20 errors a token may revert with inside it. */
export const marketAbi = [...researchMarketAbi, ...testStablecoinAbi.filter((item): item is TokenError => item.type === 'error')] as const

export const NATIVE: Address = ZERO_ADDRESS
export const DAY = 86_400n
export const ContributionStatus = { None: 0, Reserved: 1, Withdrawn: 2, Delivered: 3 } as const

/** Category codes (src/core/categories.ts): what study masks hold. Records carry only their patient's blinded tag. */
export const Category = { laboratory: 0, imaging: 1, immunization: 2, note: 4, mentalHealth: 5 } as const
export const bit = (...codes: number[]) => codes.reduce((mask, c) => mask | (1 << c), 0)

export type Terms = {
  protocolDigest: Hex
  protocolCodec: number
  descriptionHash: Hex
  categories: number
  criteriaHash: Hex
  asset: Address
  pricePerRecord: bigint
  maxRecords: number
  deadline: number
}

export type Market = Awaited<ReturnType<typeof setupMarket>>

/** A fresh deployment with one registered provider, one approved researcher and a test stablecoin. */
export async function setupMarket(env: Env) {
  const d: Deployed = await env.deploy()
  assert.ok(d.research, 'deployContracts deploys ResearchMarket')
  const address = getAddress(d.research)
  const as = (account: Account) =>
    getContract({ address, abi: marketAbi, client: { public: env.publicClient, wallet: env.wallet(account) } })
  const provider = await registerProvider(env, d)
  const researcher = await env.newAccount()
  await env.mined(as(env.admin).write.approveResearcher([researcher.address]))
  const usdHash = await env.wallet(env.admin).deployContract({ abi: testStablecoinAbi, bytecode: testStablecoinBytecode })
  const usdAddress = (await env.mined(usdHash)).contractAddress
  assert.ok(usdAddress)
  const usd = getContract({
    address: getAddress(usdAddress),
    abi: testStablecoinAbi,
    client: { public: env.publicClient, wallet: env.wallet(env.admin) },
  })
  const usdAs = (account: Account) =>
    getContract({ address: usd.address, abi: testStablecoinAbi, client: { public: env.publicClient, wallet: env.wallet(account) } })
  return { d, address, market: as(env.admin), as, provider, researcher, usd, usdAs }
}

/** Deploys a ReentrantToken; returns a typed contract bound to the admin wallet. */
export async function deployReentrantToken(env: Env) {
  const hash = await env.wallet(env.admin).deployContract({ abi: reentrantTokenAbi, bytecode: reentrantTokenBytecode })
  const address = (await env.mined(hash)).contractAddress
  assert.ok(address)
  return getContract({
    address: getAddress(address),
    abi: reentrantTokenAbi,
    client: { public: env.publicClient, wallet: env.wallet(env.admin) },
  })
}

/**
 * Mints records to patients in one `mintBatch` (each patient first authorises the provider):
 * `categories[i]` lists the categories of patient i's records. Returns each patient's token ids.
 * Patients may be contract addresses; `authorize` then sends their authorisation for them.
 */
export async function mintRecords(
  env: Env,
  m: Market,
  patients: Address[],
  categories: number[][],
  authorize: (patient: Address, until: bigint) => Promise<unknown> = async (patient, until) => {
    const account = accountFor(patient)
    await env.mined(m.d.recordsAs(account).write.authorizeProvider([m.provider.address, until]))
  },
): Promise<bigint[][]> {
  const until = (await env.latestTimestamp()) + 3650n * DAY
  await Promise.all(patients.map((p) => authorize(p, until)))
  // Each record is tagged with its patient's tag for the category (a sensitive one with its own flag).
  const requests = patients.flatMap((p, i) =>
    (categories[i] ?? []).map((code) => {
      const category = categoryName(code)
      return mintRequest(p, { tag: tagTableOf(p).tag(category, requiredSensitivity(category)) })
    }),
  )
  const out: bigint[][] = patients.map(() => [])
  for (let start = 0; start < requests.length; start += 100) {
    const chunk = requests.slice(start, start + 100)
    const receipt = await env.mined(m.d.recordsAs(m.provider).write.mintBatch([chunk]))
    const issued = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs, eventName: 'RecordIssued' })
    for (const log of issued) out[patients.findIndex((p) => getAddress(p) === getAddress(log.args.patient))]!.push(log.args.tokenId)
  }
  return out
}

const tables = new Map<Address, ReturnType<typeof patientTags>>()
/** A patient's tag table (made on first use), as the patient's client knows it. */
export function tagTableOf(patient: Address): ReturnType<typeof patientTags> {
  const key = getAddress(patient)
  let table = tables.get(key)
  if (!table) {
    table = patientTags()
    tables.set(key, table)
  }
  return table
}

const accounts = new Map<Address, PrivateKeyAccount>()
/** Remembers accounts so `mintRecords` can authorise on their behalf. */
export function remember<T extends PrivateKeyAccount>(account: T): T {
  accounts.set(getAddress(account.address), account)
  return account
}
function accountFor(address: Address): PrivateKeyAccount {
  const account = accounts.get(getAddress(address))
  assert.ok(account, `no account remembered for ${address}`)
  return account
}

/** Study terms with a 30-day deadline; override any field. */
export async function terms(env: Env, overrides: Partial<Terms> = {}): Promise<Terms> {
  return {
    protocolDigest: randomBytes32(),
    protocolCodec: 0x55,
    descriptionHash: randomBytes32(),
    categories: bit(Category.laboratory),
    criteriaHash: randomBytes32(),
    asset: NATIVE,
    pricePerRecord: 10n ** 15n,
    maxRecords: 10,
    deadline: Number((await env.latestTimestamp()) + 30n * DAY),
    ...overrides,
  }
}

/** Posts a study as `researcher`, funding it (minting and approving stablecoins if the asset is `m.usd`). Returns its id. */
export async function post(env: Env, m: Market, t: Terms, researcher: Account = m.researcher): Promise<bigint> {
  const budget = t.pricePerRecord * BigInt(t.maxRecords)
  if (t.asset !== NATIVE) {
    assert.equal(getAddress(t.asset), m.usd.address, 'post() funds only the test stablecoin')
    await env.mined(m.usd.write.mint([researcher.address, budget]))
    await env.mined(m.usdAs(researcher).write.approve([m.address, budget]))
  }
  const receipt = await env.mined(m.as(researcher).write.postStudy([t], { value: t.asset === NATIVE ? budget : 0n }))
  const [posted] = parseEventLogs({ abi: researchMarketAbi, logs: receipt.logs, eventName: 'StudyPosted' })
  assert.ok(posted)
  return posted.args.studyId
}

/** Joins as `patient`; returns the contribution id. */
export async function join(env: Env, m: Market, patient: Account, studyId: bigint, tokenIds: bigint[]): Promise<bigint> {
  const receipt = await env.mined(m.as(patient).write.join([studyId, tokenIds]))
  const [reserved] = parseEventLogs({ abi: researchMarketAbi, logs: receipt.logs, eventName: 'ContributionReserved' })
  assert.ok(reserved)
  return reserved.args.contributionId
}

/** A dataset CID (CIDv1 raw, sha2-256) and commitment, both random. */
export function dataset(): { cid: Hex; commitment: Hex } {
  return { cid: `0x01551220${randomBytes32().slice(2)}`, commitment: randomBytes32() }
}

/** The contract's balance of `asset`. */
export async function heldBy(env: Env, m: Market, asset: Address, holder: Address = m.address): Promise<bigint> {
  if (asset === NATIVE) return env.publicClient.getBalance({ address: holder })
  return env.publicClient.readContract({ address: asset, abi: testStablecoinAbi, functionName: 'balanceOf', args: [holder] })
}

/**
 * The escrow invariant for `asset`: the contract holds exactly the unreserved plus reserved budget
 * of every study in that asset plus every account's owed balance (`accounts` must name every
 * account that may be owed anything). Returns the parts.
 */
export async function checkEscrow(env: Env, m: Market, asset: Address, accounts: Address[]) {
  const last = await m.market.read.lastStudyId()
  let unreserved = 0n
  let reserved = 0n
  for (let id = 1n; id <= last; id++) {
    const study = await m.market.read.studyOf([id])
    if (getAddress(study.asset) !== getAddress(asset)) continue
    const [u, r] = await m.market.read.escrowOf([id])
    unreserved += u
    reserved += r
  }
  const owed = (await Promise.all(accounts.map((a) => m.market.read.balanceOf([a, asset])))).reduce((s, v) => s + v, 0n)
  const held = await heldBy(env, m, asset)
  assert.equal(held, unreserved + reserved + owed, `contract holds ${held}; unreserved ${unreserved} + reserved ${reserved} + owed ${owed}`)
  return { held, unreserved, reserved, owed }
}

/** Calldata for a contract account (ReentrantReceiver, ReentrantToken) to send to the market. */
export function marketCall<const name extends 'join' | 'deliver' | 'withdraw' | 'closeStudy' | 'postStudy' | 'withdrawContribution'>(
  functionName: name,
  args: unknown[],
): Hex {
  return encodeFunctionData({ abi: researchMarketAbi, functionName, args } as never)
}
