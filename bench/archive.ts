/**
 * Archive onboarding: gas per record when a provider anchors N records as one Merkle root
 * (`ArchiveAnchor.anchor`, one transaction whatever N is, nothing posted per record), at N = 1,
 * 100, 1,000 and 10,000, against a single MedicalRecord mint measured as bench/gas.ts measures it
 * (median of standing-authorisation mints 2..5 through issueRecord) and against the physical floor
 * of one new storage slot per record (22,100 gas). Also the gas a contract pays to check one proof
 * (`verifyRecord`, by eth_estimateGas of the view), which grows with log2(N).
 *
 * Records up to SEAL_MAX (default 1,000; MEDVAULT_BENCH_ARCHIVE_SEAL_MAX to change) are sealed for
 * real on a throwaway anvil and on-disk Helia store, through onboardArchive as `medvault archive
 * anchor` runs it. Larger archives get leaves of random commitments and CIDs: the anchoring
 * transaction carries only the root, the count and the manifest's CID, so its gas does not depend
 * on what the leaves hold, and sealing 10,000 records would only measure the sealing again.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Address, type Hex, bytesToHex, createTestClient, encodeFunctionData, getAddress, http, parseEther } from 'viem'
import { type PrivateKeyAccount, generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  type ArchivedRecord,
  anchorArchive,
  archiveTree,
  onboardArchive,
  parseArchiveBundle,
  syntheticArchiveBundle,
} from '../src/archive/index.js'
import { EMBEDDED_DEV_KEY } from '../src/chain/embedded.js'
import { createFileTagTableStore } from '../src/consent/index.js'
import { deriveTagSecret } from '../src/core/index.js'
import { archiveAnchorAbi } from '../src/contracts/index.js'
import {
  type BlobStore,
  type EmbeddedChain,
  type Recipient,
  type RecordsContext,
  authorizeProvider,
  createChainClients,
  createHeliaStore,
  deployContracts,
  encryptionKeyPairFromSeed,
  generateEncryptionSeed,
  issueRecord,
  publishEncryptionKey,
  registerProvider,
  startAnvil,
} from '../src/index.js'
import { type Metrics, fmt, fmtInt, median, progress, table, tempDir } from './util.js'

export const ARCHIVE_SIZES = [1, 100, 1000, 10_000] as const
const SEAL_MAX = Number(process.env.MEDVAULT_BENCH_ARCHIVE_SEAL_MAX ?? 1000)
const SLOT_FLOOR = 22_100
const MINTS = 5
const PATIENTS = 4

/** `keys`: an unlocked account's keys, what the library's issuer and patient parameters take. */
type Party = {
  account: PrivateKeyAccount
  recipient: Recipient
  keys: { address: Address; chainAccount: PrivateKeyAccount; encryptionSeed: Uint8Array; encryptionPublicKey: Hex; tagSecret: Uint8Array }
}

export type ArchiveDetails = {
  mintGas: number[]
  sizes: { n: number; sealed: boolean; anchorGas: number; verifyGas: number; proofLength: number; sealSeconds?: number }[]
}

export async function measureArchive(): Promise<{ metrics: Metrics; details: ArchiveDetails; report: string }> {
  const dir = tempDir('archive')
  let chain: EmbeddedChain | undefined
  let store: BlobStore | undefined
  try {
    progress('archive: starting anvil and deploying the contracts')
    chain = await startAnvil()
    const clients = createChainClients(chain.rpcUrl, chain.chainId)
    const { publicClient } = clients
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    const deployment = await deployContracts(clients.walletFor(registrar), publicClient)
    store = await createHeliaStore(join(dir.path, 'ipfs'))
    const ctx: RecordsContext = {
      publicClient,
      walletFor: clients.walletFor,
      deployment,
      store,
      tagTables: createFileTagTableStore(join(dir.path, 'tag-tables')),
    }
    const testClient = createTestClient({ mode: 'anvil', chain: clients.chain, transport: http(chain.rpcUrl) })
    const archive = deployment.archive as Address

    async function party(): Promise<Party> {
      const account = privateKeyToAccount(generatePrivateKey())
      await testClient.setBalance({ address: account.address, value: parseEther('100') })
      const seed = generateEncryptionSeed()
      const { publicKey } = await encryptionKeyPairFromSeed(seed)
      const recipient = { address: account.address, encryptionPublicKey: bytesToHex(publicKey) }
      await publicClient.waitForTransactionReceipt({ hash: await publishEncryptionKey(ctx, account, recipient.encryptionPublicKey) })
      const keys = {
        address: account.address,
        chainAccount: account,
        encryptionSeed: seed,
        encryptionPublicKey: recipient.encryptionPublicKey,
        tagSecret: deriveTagSecret(seed),
      }
      return { account, recipient, keys }
    }

    const lab = await party()
    await publicClient.waitForTransactionReceipt({
      hash: await registerProvider(ctx, registrar, {
        provider: lab.account.address,
        name: 'Bench Archive Lab',
        encryptionKey: lab.recipient.encryptionPublicKey,
      }),
    })
    const patients: Party[] = []
    for (let i = 0; i < PATIENTS; i++) patients.push(await party())

    // The reference: single mints under a standing authorisation, as bench/gas.ts measures them.
    progress(`archive: ${MINTS} single mints (the reference)`)
    const first = patients[0]!
    await publicClient.waitForTransactionReceipt({
      hash: await authorizeProvider(ctx, first.keys, lab.account.address, new Date(Date.now() + 86_400_000)),
    })
    const reference = parseArchiveBundle(
      new TextEncoder().encode(
        JSON.stringify(
          syntheticArchiveBundle({ patients: [first.account.address], resourcesPerPatient: MINTS, chainId: chain.chainId, seed: 99 }),
        ),
      ),
      { chainId: chain.chainId },
    )
    const mintGas: number[] = []
    for (const entry of reference.entries) {
      const issued = await issueRecord(ctx, {
        issuer: lab.keys,
        patient: first.recipient,
        content: { bytes: entry.content },
        contentType: 'application/fhir+json',
        category: entry.category,
        sensitivity: entry.sensitivity,
        consent: { standing: true },
      })
      mintGas.push(Number(issued.gasUsed))
    }
    const mint = median(mintGas.slice(1))

    const sizes: ArchiveDetails['sizes'] = []
    for (const n of ARCHIVE_SIZES) {
      let records: ArchivedRecord[]
      let anchorGas: number
      let sealSeconds: number | undefined
      const sealed = n <= SEAL_MAX
      if (sealed) {
        progress(`archive: sealing ${fmtInt(n)} records on Helia and anchoring them (onboardArchive)`)
        const bundle = syntheticArchiveBundle({
          patients: patients.map((p) => p.account.address),
          resourcesPerPatient: Math.ceil(n / PATIENTS),
          chainId: chain.chainId,
          seed: n,
        })
        const entries = parseArchiveBundle(new TextEncoder().encode(JSON.stringify(bundle)), { chainId: chain.chainId }).entries.slice(0, n)
        const result = await onboardArchive(ctx, {
          issuer: lab.account,
          entries,
          outDir: join(dir.path, `archive-${n}`),
          onProgress: (p) => {
            if (p.stage === 'sealing' && p.sealed > 0 && p.sealed % 250 === 0) progress(`archive: ${p.sealed}/${p.total} sealed`)
          },
        })
        anchorGas = Number(result.gasUsed)
        sealSeconds = result.sealSeconds
        const manifest = JSON.parse(await readFile(join(result.outDir, 'manifest.json'), 'utf8')) as {
          records: { record: ArchivedRecord }[]
        }
        records = manifest.records.map((r) => r.record)
      } else {
        progress(`archive: ${fmtInt(n)} leaves of random commitments and CIDs, anchored`)
        const issuedAt = Number((await publicClient.getBlock()).timestamp)
        records = Array.from({ length: n }, (_, i) => ({
          patient: patients[i % PATIENTS]!.account.address,
          commitment: bytesToHex(randomBytes(32)),
          cidDigest: bytesToHex(randomBytes(32)),
          cidCodec: 0x55,
          issuer: getAddress(lab.account.address),
          issuedAt,
          category: i % 5,
          sensitivity: 0,
        }))
        const tree = archiveTree(records)
        const manifest = await store.add(
          (async function* () {
            yield new TextEncoder().encode(JSON.stringify(tree.dump()))
          })(),
        )
        const anchored = await anchorArchive(ctx, {
          issuer: lab.account,
          root: tree.root as Hex,
          count: n,
          manifest: { digest: bytesToHex(manifest.multihash.digest), codec: manifest.code },
        })
        anchorGas = Number(anchored.gasUsed)
      }
      const tree = archiveTree(records)
      const proof = tree.getProof(records.length - 1) as Hex[]
      const archiveId = (await publicClient.readContract({
        address: archive,
        abi: archiveAnchorAbi,
        functionName: 'archiveIdOf',
        args: [lab.account.address, tree.root as Hex],
      })) as Hex
      // What a contract pays to check one proof: the view's gas, less the 21,000 of a transaction.
      const verifyGas =
        Number(
          await publicClient.estimateGas({
            to: archive,
            data: encodeFunctionData({ abi: archiveAnchorAbi, functionName: 'verifyRecord', args: [archiveId, records.at(-1)!, proof] }),
          }),
        ) - 21_000
      sizes.push({ n, sealed, anchorGas, verifyGas, proofLength: proof.length, ...(sealSeconds === undefined ? {} : { sealSeconds }) })
    }

    const metrics: Metrics = {
      'archive.mintReference': { label: 'archive: reference single mint (standing auth.)', value: mint, unit: 'gas', kind: 'gas' },
    }
    for (const s of sizes) {
      const perRecord = s.anchorGas / s.n
      metrics[`archive.gasPerRecord.${s.n}`] = {
        label: `archive of ${fmtInt(s.n)}: anchoring gas per record`,
        value: perRecord,
        unit: 'gas',
        kind: 'gas',
      }
      metrics[`archive.ratio.${s.n}`] = {
        label: `archive of ${fmtInt(s.n)}: per record / single mint`,
        value: (100 * perRecord) / mint,
        unit: '% of a mint',
        kind: 'info',
      }
      metrics[`archive.verifyGas.${s.n}`] = {
        label: `archive of ${fmtInt(s.n)}: verifyRecord gas`,
        value: s.verifyGas,
        unit: 'gas',
        kind: 'gas',
      }
    }
    const thousand = sizes.find((s) => s.n === 1000)
    if (thousand?.sealSeconds) {
      metrics['archive.sealRecordsPerSecond'] = {
        label: 'archive: records sealed and stored per second (N = 1,000)',
        value: 1000 / thousand.sealSeconds,
        unit: 'records/s',
        kind: 'throughput',
      }
    }

    const rows = sizes.map((s) => {
      const perRecord = s.anchorGas / s.n
      return [
        fmtInt(s.n),
        fmtInt(s.anchorGas),
        perRecord >= 1000 ? fmtInt(Math.round(perRecord)) : fmt(perRecord, 1),
        `${fmt((100 * perRecord) / mint, 3)}%`,
        `${fmt((100 * perRecord) / SLOT_FLOOR, 2)}%`,
        '0',
        `${fmtInt(s.verifyGas)} (${s.proofLength} hashes)`,
        s.sealed ? (s.n >= 100 ? `sealed, ${fmt(s.n / (s.sealSeconds ?? 1), 1)} records/s` : 'sealed') : 'random leaves',
      ]
    })
    const report = [
      `anvil ${chain.rpcUrl}; gasUsed from receipts (includes 21,000 intrinsic + calldata); single mint = median of standing mints 2..${MINTS}: ${fmtInt(mint)} gas`,
      '',
      table(['N', 'anchor tx gas', 'gas/record', 'vs mint', 'vs 22,100 floor', 'calldata/record', 'verifyRecord gas', 'leaves'], rows),
      '',
      `At N = 1,000 a record costs ${fmt((100 * (sizes.find((s) => s.n === 1000)?.anchorGas ?? 0)) / 1000 / mint, 3)}% of a single mint; nothing is posted per record.`,
    ].join('\n')
    return { metrics, details: { mintGas, sizes }, report }
  } finally {
    await store?.close().catch(() => undefined)
    await chain?.stop().catch(() => undefined)
    dir.remove()
  }
}
