/**
 * Gas of the research market (ResearchMarket.sol), sent with medvault's own client
 * (src/research/market): posting a study (native currency and the test stablecoin), joining with 1
 * and with 10 records, delivering, withdrawing and closing. Records only need to exist and belong
 * to their patients, so they are minted with one raw `mintBatch` under standing authorisations.
 *
 * Each series runs once per patient (or study); the first call of a series also initialises
 * storage shared by the series (the study or contribution counter), so the figure is the median of
 * calls 2..N, except where each call initialises its own slot anyway (noted in the basis).
 */
import { type Hex, parseEventLogs, type TransactionReceipt } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { medicalRecordAbi } from '../src/contracts/index.js'
import { testStablecoinAbi, testStablecoinBytecode } from '../src/contracts/testing.js'
import type { RecordsContext } from '../src/index.js'
import {
  approveResearcher,
  closeStudy,
  deliver,
  joinStudy,
  type MarketContext,
  NATIVE_ASSET,
  postStudy,
  withdraw,
} from '../src/research/market/index.js'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { median, progress } from './util.js'

const PATIENTS = 5
const STUDIES = 3

export type ResearchGasOp = { key: string; label: string; value: number; basis: string }

const cid = (n: number) => CID.createV1(0x55, createDigest(0x12, new Uint8Array(32).fill(n + 1)))
const bytes32 = (n: number): Hex => `0x${(n + 1).toString(16).padStart(64, '0')}`
/** A record's blinded category tag: the market never reads it, so any non-zero value is as good as a patient's real one. */
const tag = (n: number): Hex => `0x${(n + 1).toString(16).padStart(16, '0')}`

export async function measureResearchGas(
  ctx: RecordsContext,
  params: {
    registrar: PrivateKeyAccount
    provider: PrivateKeyAccount
    party: () => Promise<PrivateKeyAccount>
    record: (key: string, gas: bigint) => void
    series: (key: string) => number[]
  },
): Promise<ResearchGasOp[]> {
  const { publicClient } = ctx
  const market: MarketContext = ctx
  const receipt = async (hash: Hex): Promise<TransactionReceipt> => {
    const r = await publicClient.waitForTransactionReceipt({ hash })
    if (r.status !== 'success') throw new Error(`transaction ${hash} reverted`)
    return r
  }
  const gasOf = async (hash: Hex) => (await receipt(hash)).gasUsed

  progress(`research: a researcher, ${PATIENTS} patients with 11 records each`)
  const researcher = await params.party()
  await approveResearcher(market, { registrar: params.registrar, researcher: researcher.address })
  const patients: PrivateKeyAccount[] = []
  for (let i = 0; i < PATIENTS; i++) patients.push(await params.party())
  const until = BigInt(Math.floor(Date.now() / 1000) + 30 * 86_400)
  for (const patient of patients) {
    await receipt(
      await ctx.walletFor(patient).writeContract({
        address: ctx.deployment.records,
        abi: medicalRecordAbi,
        functionName: 'authorizeProvider',
        args: [params.provider.address, until],
      }),
    )
  }
  const requests = patients.flatMap((patient, p) =>
    Array.from({ length: 11 }, (_, i) => ({
      patient: patient.address,
      commitment: bytes32(1000 + p * 11 + i),
      cidDigest: bytes32(2000 + p * 11 + i),
      cidCodec: 0x55,
      tag: tag(p),
    })),
  )
  const minted = await receipt(
    await ctx.walletFor(params.provider).writeContract({
      address: ctx.deployment.records,
      abi: medicalRecordAbi,
      functionName: 'mintBatch',
      args: [requests],
    }),
  )
  const tokens = patients.map(() => [] as bigint[])
  for (const log of parseEventLogs({ abi: medicalRecordAbi, logs: minted.logs, eventName: 'RecordIssued' })) {
    tokens[patients.findIndex((p) => p.address === log.args.patient)]!.push(log.args.tokenId)
  }

  const now = Number((await publicClient.getBlock()).timestamp)
  const terms = (asset: `0x${string}`, pricePerRecord: bigint) => ({
    researcher,
    protocolCid: cid(0),
    descriptionHash: bytes32(1),
    categories: ['laboratory'] as const,
    criteriaHash: bytes32(2),
    asset,
    pricePerRecord,
    maxRecords: 100,
    deadline: new Date((now + 30 * 86_400) * 1000),
  })

  progress(`research: ${STUDIES} studies in native currency, ${STUDIES} in the test stablecoin`)
  let studyId = 0n
  for (let i = 0; i < STUDIES; i++) {
    const posted = await postStudy(market, terms(NATIVE_ASSET, 10n ** 12n))
    params.record('researchPost', await gasOf(posted.txHash))
    studyId = posted.studyId
  }
  const usdDeploy = await receipt(
    await ctx.walletFor(params.registrar).deployContract({ abi: testStablecoinAbi, bytecode: testStablecoinBytecode }),
  )
  const usd = usdDeploy.contractAddress!
  await receipt(
    await ctx.walletFor(params.registrar).writeContract({
      address: usd,
      abi: testStablecoinAbi,
      functionName: 'mint',
      args: [researcher.address, 10n ** 12n],
    }),
  )
  for (let i = 0; i < STUDIES; i++) {
    // postStudy approves the budget first (not counted): the figure is the postStudy call alone.
    const posted = await postStudy(market, terms(usd, 1_000_000n))
    params.record('researchPostErc20', await gasOf(posted.txHash))
  }

  progress(`research: ${PATIENTS} patients join with 1 record, then with 10`)
  const single: bigint[] = []
  const ten: bigint[] = []
  for (const [p, patient] of patients.entries()) {
    const joined = await joinStudy(market, { patient, studyId, tokenIds: tokens[p]!.slice(0, 1) })
    params.record('researchJoin1', await gasOf(joined.txHash))
    single.push(joined.contributionId)
  }
  for (const [p, patient] of patients.entries()) {
    const joined = await joinStudy(market, { patient, studyId, tokenIds: tokens[p]!.slice(1, 11) })
    params.record('researchJoin10', (await gasOf(joined.txHash)) / 10n)
    ten.push(joined.contributionId)
  }

  progress(`research: ${PATIENTS} patients deliver, twice each, and withdraw`)
  for (const [p, patient] of patients.entries()) {
    const delivered = await deliver(market, {
      patient,
      contributionId: single[p]!,
      datasetCid: cid(10 + p),
      datasetCommitment: bytes32(10 + p),
    })
    params.record('researchDeliverFirst', await gasOf(delivered.txHash))
  }
  for (const [p, patient] of patients.entries()) {
    const delivered = await deliver(market, {
      patient,
      contributionId: ten[p]!,
      datasetCid: cid(20 + p),
      datasetCommitment: bytes32(20 + p),
    })
    params.record('researchDeliver', await gasOf(delivered.txHash))
  }
  for (const patient of patients) {
    const paid = await withdraw(market, { account: patient, asset: NATIVE_ASSET })
    params.record('researchWithdraw', await gasOf(paid.txHash))
  }
  progress('research: the researcher closes its studies')
  for (let id = studyId - BigInt(STUDIES) + 1n; id <= studyId; id++) {
    const closed = await closeStudy(market, { researcher, studyId: id })
    params.record('researchClose', await gasOf(closed.txHash))
  }

  const steady = (key: string) => median(params.series(key).slice(1))
  const all = (key: string) => median(params.series(key))
  return [
    { key: 'researchPost', label: 'ResearchMarket.postStudy (native)', value: steady('researchPost'), basis: `median of 2..${STUDIES}` },
    {
      key: 'researchPostErc20',
      label: 'ResearchMarket.postStudy (ERC-20)',
      value: steady('researchPostErc20'),
      basis: `median of 2..${STUDIES}`,
    },
    { key: 'researchJoin1', label: 'ResearchMarket.join, 1 record', value: steady('researchJoin1'), basis: `median of 2..${PATIENTS}` },
    {
      key: 'researchJoin10',
      label: 'ResearchMarket.join of 10, per record',
      value: all('researchJoin10'),
      basis: `median, all / 10`,
    },
    {
      key: 'researchDeliverFirst',
      label: 'ResearchMarket.deliver (first payment)',
      value: all('researchDeliverFirst'),
      basis: 'median, all (new balance)',
    },
    { key: 'researchDeliver', label: 'ResearchMarket.deliver', value: all('researchDeliver'), basis: 'median, all (balance > 0)' },
    { key: 'researchWithdraw', label: 'ResearchMarket.withdraw (native)', value: all('researchWithdraw'), basis: 'median, all' },
    { key: 'researchClose', label: 'ResearchMarket.closeStudy (early)', value: all('researchClose'), basis: 'median, all' },
  ]
}
