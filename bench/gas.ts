/**
 * Gas per operation on a real anvil chain (throwaway, no state file), measured from receipts'
 * gasUsed, with medvault's own library issuing the records so the calls are the ones the app sends.
 *
 * Mints come in series of GAS_MINTS to one patient. The first mint of a series also initialises
 * storage (the patient's balance and nonce; for the first series, the token counter), so the
 * steady-state figure is the median of mints 2..N.
 *
 * Batched mints (`mintBatch`, what `medvault import` sends) are measured per record at several
 * batch sizes, through the import itself: a fresh patient gets a bundle of a few batches, and the
 * figure is the median of batches 2.. divided by the batch size (the first batch pays for the
 * patient's balance slot).
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { type Address, type Hex, type TransactionReceipt, bytesToHex, createTestClient, http, parseEther } from 'viem'
import { type PrivateKeyAccount, generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { EMBEDDED_DEV_KEY } from '../src/chain/embedded.js'
import { baselineRecordAbi, baselineRecordBytecode } from '../src/contracts/testing.js'
import {
  type BlobStore,
  type Category,
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
import { importBundle, parseImportBundle, syntheticPatientBundle } from '../src/import/index.js'
import { createFileTagTableStore, createGrant, revokeGrant } from '../src/consent/index.js'
import { deriveTagSecret } from '../src/core/index.js'
import { measureResearchGas } from './researchGas.js'
import { type Metrics, fmt, fmtInt, median, progress, table, tempDir } from './util.js'

const GAS_MINTS = 5
/** Records per mintBatch measured; batches per series: enough for a median of batches 2.. */
export const BATCH_SIZES = [1, 10, 50] as const
const batchesFor = (size: number) => (size === 1 ? 5 : 3)

/** `keys` is what the library's issuer, patient and grantor parameters take: an unlocked account's keys. */
type Party = {
  account: PrivateKeyAccount
  recipient: Recipient
  encryptionSeed: Uint8Array
  keys: { address: Address; chainAccount: PrivateKeyAccount; encryptionSeed: Uint8Array; encryptionPublicKey: Hex; tagSecret: Uint8Array }
}

export type GasDetails = Record<string, number[]>

/** A small FHIR Observation, different each time so every record gets its own commitment and CID. */
function document(n: number): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      resourceType: 'Observation',
      id: `bench-${n}-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 16)}`,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose [Mass/volume] in Blood' }] },
      subject: { reference: 'Patient/bench' },
      effectiveDateTime: '2025-01-15T08:30:00Z',
      valueQuantity: { value: 95 + n, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    }),
  )
}

const steady = (series: readonly number[]) => median(series.slice(1))

export async function measureGas(): Promise<{ metrics: Metrics; details: GasDetails; report: string }> {
  const dir = tempDir('gas')
  let chain: EmbeddedChain | undefined
  let store: BlobStore | undefined
  try {
    progress('gas: starting anvil and deploying the contracts')
    chain = await startAnvil()
    const clients = createChainClients(chain.rpcUrl, chain.chainId)
    const { publicClient } = clients
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    const deployment = await deployContracts(clients.walletFor(registrar), publicClient)
    store = await createHeliaStore(dir.path)
    // The tag tables a patient seals to the providers it authorises and the grantees it names.
    const ctx: RecordsContext = {
      publicClient,
      walletFor: clients.walletFor,
      deployment,
      store,
      tagTables: createFileTagTableStore(join(dir.path, 'tag-tables')),
    }
    const testClient = createTestClient({ mode: 'anvil', chain: clients.chain, transport: http(chain.rpcUrl) })
    const receipt = async (hash: Hex): Promise<TransactionReceipt> => {
      const r = await publicClient.getTransactionReceipt({ hash })
      if (r.status !== 'success') throw new Error(`transaction ${hash} reverted`)
      return r
    }

    async function party(): Promise<Party> {
      const account = privateKeyToAccount(generatePrivateKey())
      await testClient.setBalance({ address: account.address, value: parseEther('100') })
      const encryptionSeed = generateEncryptionSeed()
      const { publicKey } = await encryptionKeyPairFromSeed(encryptionSeed)
      const encryptionPublicKey = bytesToHex(publicKey)
      const keys = {
        address: account.address,
        chainAccount: account,
        encryptionSeed,
        encryptionPublicKey,
        tagSecret: deriveTagSecret(encryptionSeed),
      }
      return { account, recipient: { address: account.address, encryptionPublicKey: bytesToHex(publicKey) }, encryptionSeed, keys }
    }

    const details: GasDetails = {}
    const record = (key: string, gas: bigint) => {
      details[key] = [...(details[key] ?? []), Number(gas)]
    }

    // ProviderRegistry.register: the first registration also starts the provider list.
    progress(`gas: registering ${GAS_MINTS} providers`)
    const providers: Party[] = []
    for (let i = 1; i <= GAS_MINTS; i++) {
      const provider = await party()
      const hash = await registerProvider(ctx, registrar, {
        provider: provider.account.address,
        name: `Bench Lab ${i}`,
        encryptionKey: provider.recipient.encryptionPublicKey,
      })
      record('register', (await receipt(hash)).gasUsed)
      providers.push(provider)
    }
    const [consentLab, standingLab] = providers as [Party, Party, ...Party[]]

    // setEncryptionKey: each patient publishes its key once (a fresh storage slot every time).
    progress(`gas: ${GAS_MINTS} patients publish their encryption keys`)
    const patients: Party[] = []
    for (let i = 0; i < GAS_MINTS; i++) {
      const patient = await party()
      const hash = await publishEncryptionKey(ctx, patient.account, patient.recipient.encryptionPublicKey)
      record('setEncryptionKey', (await receipt(hash)).gasUsed)
      patients.push(patient)
    }
    const [consentPatient, standingPatient] = patients as [Party, Party, ...Party[]]

    // authorizeProvider: the standing patient authorises every provider (a fresh pair each time).
    progress(`gas: ${GAS_MINTS} standing authorisations`)
    const until = new Date(Date.now() + 30 * 24 * 3600 * 1000)
    for (const provider of providers) {
      const hash = await authorizeProvider(ctx, standingPatient.keys, provider.account.address, until)
      record('authorizeProvider', (await receipt(hash)).gasUsed)
    }

    const issue = (issuer: Party, patient: Party, n: number, consent: 'signature' | 'standing', supersedes?: bigint) =>
      issueRecord(ctx, {
        issuer: issuer.keys,
        patient: patient.recipient,
        content: { bytes: document(n) },
        contentType: 'application/fhir+json',
        category: 'laboratory' satisfies Category,
        consent: consent === 'signature' ? { patient: patient.keys } : { standing: true },
        ...(supersedes ? { supersedes } : {}),
      })

    progress(`gas: ${GAS_MINTS} mints with an EIP-712 consent signature`)
    const consentTokens: bigint[] = []
    const cids: string[] = []
    for (let i = 0; i < GAS_MINTS; i++) {
      const issued = await issue(consentLab, consentPatient, i, 'signature')
      record('mintConsent', issued.gasUsed)
      consentTokens.push(issued.tokenId)
      cids.push(issued.cid.toString())
    }

    progress(`gas: ${GAS_MINTS} mints under a standing authorisation`)
    for (let i = 0; i < GAS_MINTS; i++) {
      const issued = await issue(standingLab, standingPatient, 100 + i, 'standing')
      record('mintStanding', issued.gasUsed)
    }

    // amend: correct each of the consent series' records except the last, with a fresh signature.
    progress(`gas: ${GAS_MINTS - 1} amendments (with consent signature)`)
    for (const tokenId of consentTokens.slice(0, -1)) {
      const issued = await issue(consentLab, consentPatient, 200 + Number(tokenId), 'signature', tokenId)
      record('amend', issued.gasUsed)
    }

    // grant: the consent patient grants each provider two categories (a new patient-grantee pair each
    // time; the first grant also starts the patient's grant list), then revokes every grant.
    progress(`gas: ${GAS_MINTS} category grants and their revocations`)
    const grantIds: bigint[] = []
    for (const provider of providers) {
      const { grantId, txHash } = await createGrant(ctx, {
        grantor: consentPatient.keys,
        patient: consentPatient.account.address,
        grantee: provider.account.address,
        terms: { scope: 'categories', categories: ['laboratory', 'immunization'] },
        expiresAt: until,
        purpose: 'treatment',
      })
      record('grant', (await receipt(txHash)).gasUsed)
      grantIds.push(grantId)
    }
    for (const grantId of grantIds) {
      record('revoke', (await receipt(await revokeGrant(ctx, { grantor: consentPatient.account, grantId }))).gasUsed)
    }

    // mintBatch through the import, per record, at each batch size: a fresh patient per size.
    for (const size of BATCH_SIZES) {
      progress(`gas: mintBatch of ${size}, ${batchesFor(size)} batches (through importBundle)`)
      const patient = await party()
      await receipt(await authorizeProvider(ctx, patient.keys, standingLab.account.address, until))
      const bundle = parseImportBundle(
        new TextEncoder().encode(
          JSON.stringify(syntheticPatientBundle({ resources: size * batchesFor(size), seed: size, sensitiveShare: 0 })),
        ),
      )
      const imported = await importBundle(ctx, {
        issuer: { chainAccount: standingLab.account, encryptionSeed: standingLab.encryptionSeed, tagSecret: standingLab.keys.tagSecret },
        patient: patient.recipient,
        bundle,
        journalDir: join(dir.path, 'imports'),
        batchSize: size,
      })
      for (const batch of imported.batches) record(`mintBatch${size}`, batch.gasUsed / BigInt(size))
    }

    // The textbook NFT: _safeMint + _setTokenURI("ipfs://<CIDv1 base32>"), using the real CIDs above.
    progress(`gas: baseline ERC721URIStorage, ${GAS_MINTS} mints`)
    const wallet = clients.walletFor(registrar)
    const deployHash = await wallet.deployContract({ abi: baselineRecordAbi, bytecode: baselineRecordBytecode })
    const baseline = (await publicClient.waitForTransactionReceipt({ hash: deployHash })).contractAddress
    if (!baseline) throw new Error('BaselineRecord deployment failed')
    const baselineOwner = await party()
    for (const cid of cids) {
      const hash = await wallet.writeContract({
        address: baseline,
        abi: baselineRecordAbi,
        functionName: 'mint',
        args: [baselineOwner.account.address, `ipfs://${cid}`],
      })
      const r = await publicClient.waitForTransactionReceipt({ hash })
      if (r.status !== 'success') throw new Error('baseline mint reverted')
      record('baselineMint', r.gasUsed)
    }

    const research = await measureResearchGas(ctx, {
      registrar,
      provider: standingLab.account,
      party: async () => (await party()).account,
      record,
      series: (key) => details[key] ?? [],
    })

    const series = (key: string) => details[key] ?? []
    const ops: { key: string; label: string; value: number; basis: string }[] = [
      {
        key: 'mintConsent',
        label: 'MedicalRecord.mint (EIP-712 consent)',
        value: steady(series('mintConsent')),
        basis: `median of mints 2..${GAS_MINTS}`,
      },
      {
        key: 'mintStanding',
        label: 'MedicalRecord.mint (standing auth.)',
        value: steady(series('mintStanding')),
        basis: `median of mints 2..${GAS_MINTS}`,
      },
      ...BATCH_SIZES.map((size) => ({
        key: `mintBatch${size}`,
        label: `MedicalRecord.mintBatch of ${size}, per record`,
        value: steady(series(`mintBatch${size}`)),
        basis: `median of batches 2..${batchesFor(size)} / ${size}`,
      })),
      { key: 'amend', label: 'MedicalRecord.amend (EIP-712 consent)', value: median(series('amend')), basis: 'median, all' },
      { key: 'register', label: 'ProviderRegistry.register', value: steady(series('register')), basis: `median of 2..${GAS_MINTS}` },
      {
        key: 'authorizeProvider',
        label: 'MedicalRecord.authorizeProvider',
        value: median(series('authorizeProvider')),
        basis: 'median, all (new pair)',
      },
      {
        key: 'grant',
        label: 'ConsentRegistry.grant (2 categories)',
        value: steady(series('grant')),
        basis: `median of 2..${GAS_MINTS} (new grantee)`,
      },
      { key: 'revoke', label: 'ConsentRegistry.revoke', value: median(series('revoke')), basis: 'median, all' },
      {
        key: 'setEncryptionKey',
        label: 'MedicalRecord.setEncryptionKey',
        value: median(series('setEncryptionKey')),
        basis: 'median, all (first set)',
      },
      {
        key: 'baselineMint',
        label: 'Baseline ERC721URIStorage.mint',
        value: steady(series('baselineMint')),
        basis: `median of mints 2..${GAS_MINTS}`,
      },
      ...research,
    ]
    const base = ops.find((o) => o.key === 'baselineMint')!.value
    const metrics: Metrics = {}
    for (const op of ops) metrics[`gas.${op.key}`] = { label: op.label, value: op.value, unit: 'gas', kind: 'gas' }
    for (const key of ['mintConsent', 'mintStanding', ...BATCH_SIZES.map((size) => `mintBatch${size}` as const), 'amend'] as const) {
      const op = ops.find((o) => o.key === key)!
      metrics[`gas.ratio.${key}`] = { label: `${op.label} / baseline mint`, value: op.value / base, unit: 'x', kind: 'info' }
    }

    const rows = ops.map((op) => [
      op.label,
      fmtInt(op.value),
      op.key.startsWith('mint') || op.key === 'amend' ? `${fmt(op.value / base, 2)}x` : '',
      fmtInt(series(op.key)[0] ?? Number.NaN),
      series(op.key)
        .map((g) => fmtInt(g))
        .join(' '),
      op.basis,
    ])
    const report = [
      `anvil ${chain.rpcUrl}, chain ${chain.chainId}; gasUsed from receipts (includes 21,000 intrinsic + calldata)`,
      `baseline tokenURI example: ipfs://${cids[0]}`,
      '',
      table(['operation', 'gas (steady)', 'vs baseline', 'first call', 'all calls', 'figure'], rows),
      '',
      `medvault mint (consent) costs ${fmt(metrics['gas.ratio.mintConsent']!.value, 2)}x the OpenZeppelin ERC721URIStorage mint; ` +
        `with a standing authorisation ${fmt(metrics['gas.ratio.mintStanding']!.value, 2)}x; ` +
        `batched, per record: ${BATCH_SIZES.map((size) => `${fmt(metrics[`gas.ratio.mintBatch${size}`]!.value, 2)}x at ${size}`).join(', ')}.`,
    ].join('\n')
    return { metrics, details, report }
  } finally {
    await store?.close().catch(() => undefined)
    await chain?.stop().catch(() => undefined)
    dir.remove()
  }
}
