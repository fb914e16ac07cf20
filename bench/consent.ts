/**
 * Consent and audit on a real anvil chain (throwaway, no state file):
 *   (a) gas per ConsentRegistry.grant (Records of 1 and of 10 records, Categories, All) and revoke,
 *       grants sent straight to the contract with the patient's tags, revocations with medvault's
 *       revokeGrant, from receipts' gasUsed;
 *   (b) the audit trail: appending N signed entries to a log (sync: false), building the batch's
 *       Merkle tree, and anchorPending (which re-checks every entry's hash, link and signature,
 *       rebuilds the tree and sends AuditAnchor.anchor) at N = 1, 100 and 10,000, with the anchor
 *       transaction's gasUsed and the gas per entry;
 *   (c) canAccessWith for 10,000 records of one patient read by one grantee under one Categories grant:
 *       sequential eth_calls, Promise.all in chunks of CHUNK, and JSON-RPC batches of CHUNK; plus
 *       the eth_estimateGas of one canAccessWith call when the patient gave the grantee 1 or 50 grants
 *       (the contract judges one grant per call, so the figure should not grow with the grants).
 *
 * Records only need to exist and belong to their patient, so they are minted directly: a provider
 * address impersonated on anvil mints under the patient's standing authorisation (empty consent),
 * with automine off, the mints sent in JSON-RPC batches with explicit nonces and each batch mined
 * as one block (evm_mine under a raised block gas limit). Accounts derive from fixed labels, so calldata (and gas) is the
 * same on every run.
 */
import { join } from 'node:path'
import {
  type Address,
  type Hex,
  type TransactionReceipt,
  createPublicClient,
  createTestClient,
  encodeFunctionData,
  getAddress,
  hexToBytes,
  http,
  keccak256,
  parseEther,
  parseEventLogs,
  toHex,
} from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import {
  type AuditEntry,
  type AuditEvent,
  type AuditWriteContext,
  anchorPending,
  auditBatchTree,
  openAuditLog,
} from '../src/audit/index.js'
import { EMBEDDED_DEV_KEY } from '../src/chain/embedded.js'
import { grantStruct } from '../src/consent/grantTerms.js'
import { canAccess, revokeGrant } from '../src/consent/grants.js'
import { consentRegistryAbi, medicalRecordAbi } from '../src/contracts/index.js'
import { type Category, buildTagTable, categoryTag, requiredSensitivity, tagsForCategories } from '../src/core/index.js'
import { registerProvider } from '../src/directory/index.js'
import { type EmbeddedChain, createChainClients, deployContracts, startAnvil } from '../src/index.js'
import { type Metrics, fmt, fmtInt, median, progress, table, tempDir } from './util.js'

/** Grants of each kind (each to a new grantee); the steady figure is the median of 2..N. */
const GRANT_SERIES = 5
export const AUDIT_BATCHES = [1, 100, 10_000] as const
/** Appends timed with fdatasync on (the log's default), for comparison. */
const SYNC_APPENDS = 200
export const ACCESS_RECORDS = 10_000
/** Concurrent calls per Promise.all chunk, and calls per JSON-RPC batch. */
const CHUNK = 500
const MANY_GRANTS = 50

export type ConsentDetails = {
  gas: Record<string, number[]>
  audit: { size: number; gasUsed: number; appendMs: number; treeMs: number; anchorMs: number }[]
  auditFirstBatchGas: number
  syncAppendMs: number
  mint: { records: number; ms: number }
  canAccess: { mode: string; checks: number; ms: number; httpRequests: number }[]
  canAccessGas: { grants: number; gas: number }[]
}

/** A deterministic account for `label`: same address on every run, so calldata gas is stable. */
const labelled = (label: string): PrivateKeyAccount => privateKeyToAccount(keccak256(toHex(`medvault-bench-consent:${label}`)))

/** A patient's tag secret, deterministic per address for the same reason. */
const tagSecretOf = (patient: Address) => hexToBytes(keccak256(toHex(`medvault-bench-consent:tags:${getAddress(patient)}`)))

/** What a bench grant shares, in a patient's words (the chain gets the patient's tags for it). */
type BenchTerms = { scope: 'records'; tokenIds: bigint[] } | { scope: 'categories'; categories: Category[] } | { scope: 'all' }

const steady = (series: readonly number[]) => median(series.slice(1))
const since = (t0: number) => performance.now() - t0

export async function measureConsentAudit(): Promise<{ metrics: Metrics; details: ConsentDetails; report: string }> {
  const dir = tempDir('consent')
  let chain: EmbeddedChain | undefined
  try {
    progress('consent: starting anvil and deploying the contracts')
    chain = await startAnvil()
    const rpcUrl = chain.rpcUrl
    const clients = createChainClients(rpcUrl, chain.chainId, { pollingInterval: 10 })
    const { publicClient } = clients
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    const deployment = await deployContracts(clients.walletFor(registrar), publicClient)
    const ctx = { publicClient, walletFor: clients.walletFor, deployment }
    const testClient = createTestClient({ mode: 'anvil', chain: clients.chain, transport: http(rpcUrl) })
    const receipt = async (hash: Hex): Promise<TransactionReceipt> => {
      const r = await publicClient.getTransactionReceipt({ hash })
      if (r.status !== 'success') throw new Error(`transaction ${hash} reverted`)
      return r
    }
    const funded = async (label: string): Promise<PrivateKeyAccount> => {
      const account = labelled(label)
      await testClient.setBalance({ address: account.address, value: parseEther('1000') })
      return account
    }

    /** Raw JSON-RPC batch (one HTTP request); throws on the first error. */
    async function rpcBatch(calls: { method: string; params: unknown[] }[]): Promise<unknown[]> {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(calls.map((c, id) => ({ jsonrpc: '2.0', id, ...c }))),
      })
      if (!res.ok) throw new Error(`JSON-RPC batch: HTTP ${res.status}`)
      const replies = (await res.json()) as { id: number; result?: unknown; error?: { message: string } }[]
      const byId = new Map(replies.map((r) => [r.id, r]))
      return calls.map((c, id) => {
        const reply = byId.get(id)
        if (!reply || reply.error) throw new Error(`${c.method} failed: ${reply?.error?.message ?? 'no reply'}`)
        return reply.result
      })
    }

    // The bulk provider: an impersonated address (anvil signs nothing), registered and funded.
    const provider = getAddress(labelled('provider').address)
    await testClient.setBalance({ address: provider, value: parseEther('100000') })
    await testClient.impersonateAccount({ address: provider })
    await registerProvider(ctx, registrar, { provider, name: 'Bench Bulk Lab', encryptionKey: keccak256(toHex('bench bulk lab key')) })
    const until = new Date(Date.now() + 30 * 24 * 3600 * 1000)

    /**
     * Mints `count` records of `category` to `patient` (who must have authorised the provider), CHUNK
     * to a block. Larger blocks are slower (anvil's pool) and make blocks viem cannot fetch (10 MiB cap).
     */
    async function mintBulk(patient: Address, count: number, category: Category = 'laboratory'): Promise<bigint[]> {
      const read = { address: deployment.records, abi: medicalRecordAbi } as const
      const before = await publicClient.readContract({ ...read, functionName: 'lastTokenId' })
      const nonce = await publicClient.getTransactionCount({ address: provider, blockTag: 'pending' })
      const block = await publicClient.getBlock()
      const txs = Array.from({ length: count }, (_, i) => ({
        from: provider,
        to: deployment.records,
        gas: toHex(250_000),
        nonce: toHex(nonce + i),
        data: encodeFunctionData({
          ...read,
          functionName: 'mint',
          args: [
            {
              patient,
              commitment: keccak256(toHex(`commitment ${patient} ${before + BigInt(i)}`)),
              cidDigest: keccak256(toHex(`cid ${patient} ${before + BigInt(i)}`)),
              cidCodec: 0x55,
              tag: categoryTag(tagSecretOf(patient), category, requiredSensitivity(category)),
            },
            0n,
            '0x',
          ],
        }),
      }))
      await rpcBatch([
        { method: 'evm_setAutomine', params: [false] },
        { method: 'evm_setBlockGasLimit', params: [toHex(BigInt(CHUNK) * 250_000n + 30_000_000n)] },
      ])
      try {
        for (let i = 0; i < txs.length; i += CHUNK) {
          await rpcBatch(txs.slice(i, i + CHUNK).map((tx) => ({ method: 'eth_sendTransaction', params: [tx] })))
          await rpcBatch([{ method: 'evm_mine', params: [] }])
        }
      } finally {
        await rpcBatch([
          { method: 'evm_setBlockGasLimit', params: [toHex(block.gasLimit)] },
          { method: 'evm_setAutomine', params: [true] },
        ])
      }
      const after = await publicClient.readContract({ ...read, functionName: 'lastTokenId' })
      if (after - before !== BigInt(count)) throw new Error(`bulk mint: ${after - before} of ${count} records minted`)
      const owned = await publicClient.readContract({ ...read, functionName: 'ownerOf', args: [after] })
      if (owned !== patient) throw new Error(`bulk mint: record ${after} belongs to ${owned}, not ${patient}`)
      return Array.from({ length: count }, (_, i) => before + 1n + BigInt(i))
    }

    /**
     * ConsentRegistry.grant as the patient, straight to the contract with the patient's tags for the
     * terms: the figure is the contract's. (createGrant also seals the granted tags to the grantee
     * off chain, which needs the grantee's published key; these grantees are bare addresses.)
     */
    async function grantOnChain(
      patient: PrivateKeyAccount,
      grantee: Address,
      terms: BenchTerms,
    ): Promise<{ grantId: bigint; txHash: Hex; terms: ReturnType<typeof grantStruct> }> {
      const tokenIds = terms.scope === 'records' ? terms.tokenIds : []
      const tags = terms.scope === 'categories' ? tagsForCategories(buildTagTable(tagSecretOf(patient.address)), terms.categories, 0) : []
      const terms_ = grantStruct({
        patient: patient.address,
        grantee,
        scope: terms.scope,
        tokenIds,
        tags,
        expiresAt: until,
        purpose: 'treatment',
      })
      const txHash = await clients.walletFor(patient).writeContract({
        address: deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'grant',
        args: [terms_],
      })
      const mined = await publicClient.waitForTransactionReceipt({ hash: txHash, pollingInterval: 10 })
      if (mined.status !== 'success') throw new Error(`grant ${txHash} reverted`)
      const [created] = parseEventLogs({ abi: consentRegistryAbi, logs: mined.logs, eventName: 'GrantCreated' })
      return { grantId: created!.args.grantId, txHash, terms: terms_ }
    }

    /** A funded patient who authorised the bulk provider. */
    async function patientWith(label: string): Promise<PrivateKeyAccount> {
      const patient = await funded(label)
      // Straight to the contract: the library's authorizeProvider also seals the patient's tag table
      // to the provider, which is off chain and not what this section measures.
      const hash = await clients.walletFor(patient).writeContract({
        address: deployment.records,
        abi: medicalRecordAbi,
        functionName: 'authorizeProvider',
        args: [provider, BigInt(Math.floor(until.getTime() / 1000))],
      })
      const mined = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 10 })
      if (mined.status !== 'success') throw new Error(`authorizeProvider ${hash} reverted`)
      return patient
    }

    const details: ConsentDetails = {
      gas: {},
      audit: [],
      auditFirstBatchGas: 0,
      syncAppendMs: 0,
      mint: { records: 0, ms: 0 },
      canAccess: [],
      canAccessGas: [],
    }
    const record = (key: string, gas: bigint) => {
      details.gas[key] = [...(details.gas[key] ?? []), Number(gas)]
    }

    // ------------------------------------------------------------ (a) grant and revoke gas
    progress('consent: minting 10 records to the granting patient')
    const granting = await patientWith('granting patient')
    const tokens = await mintBulk(granting.address, 10)
    const grantKinds: { key: string; label: string; terms: BenchTerms }[] = [
      {
        key: 'grantRecords1',
        label: 'ConsentRegistry.grant (Records, 1 record)',
        terms: { scope: 'records', tokenIds: tokens.slice(0, 1) },
      },
      { key: 'grantRecords10', label: 'ConsentRegistry.grant (Records, 10 records)', terms: { scope: 'records', tokenIds: tokens } },
      { key: 'grantCategories', label: 'ConsentRegistry.grant (Categories)', terms: { scope: 'categories', categories: ['laboratory'] } },
      { key: 'grantAll', label: 'ConsentRegistry.grant (All)', terms: { scope: 'all' } },
    ]
    const toRevoke: bigint[] = []
    for (const kind of grantKinds) {
      progress(`consent: ${GRANT_SERIES} x ${kind.label}, each to a new grantee`)
      for (let i = 0; i < GRANT_SERIES; i++) {
        const { grantId, txHash } = await grantOnChain(granting, labelled(`${kind.key} grantee ${i}`).address, kind.terms)
        record(kind.key, (await receipt(txHash)).gasUsed)
        if (kind.key === 'grantCategories') toRevoke.push(grantId)
      }
    }
    progress(`consent: revoking the ${toRevoke.length} Categories grants`)
    for (const grantId of toRevoke) record('revoke', (await receipt(await revokeGrant(ctx, { grantor: granting, grantId }))).gasUsed)

    // ------------------------------------------------------------ (c) canAccess gas, 1 vs 50 grants
    progress(`consent: canAccess gas estimates with 1 and ${MANY_GRANTS} grants to the same grantee`)
    const reader = labelled('reader').address
    const estimateFor = async (grants: number): Promise<number> => {
      const patient = await patientWith(`patient with ${grants} grants`)
      const [token] = await mintBulk(patient.address, 1)
      let covering: { grantId: bigint; terms: ReturnType<typeof grantStruct> } | undefined
      for (let i = 1; i <= grants; i++) {
        // Only the last grant covers the laboratory record: the client tries the others first.
        const categories: Category[] = i === grants ? ['laboratory'] : ['imaging']
        covering = await grantOnChain(patient, reader, { scope: 'categories', categories })
      }
      if (!(await canAccess(ctx, reader, token!))) throw new Error(`canAccess is false with ${grants} grants`)
      // The contract judges one grant per call (its terms against its hash), so the other grants
      // cost calls, not gas in this one. A view: estimate the eth_call's data.
      const gas = await publicClient.estimateGas({
        account: reader,
        to: deployment.consent,
        data: encodeFunctionData({
          abi: consentRegistryAbi,
          functionName: 'canAccessWith',
          args: [reader, token!, covering!.grantId, covering!.terms],
        }),
      })
      details.canAccessGas.push({ grants, gas: Number(gas) })
      return Number(gas)
    }
    const accessGas1 = await estimateFor(1)
    const accessGasMany = await estimateFor(MANY_GRANTS)

    // ------------------------------------------------------------ (c) canAccess timing, 10,000 records
    progress(`consent: minting ${fmtInt(ACCESS_RECORDS)} records to one patient (automine off, ${CHUNK} per block)`)
    const bulkPatient = await patientWith('bulk patient')
    let t0 = performance.now()
    const bulkTokens = await mintBulk(bulkPatient.address, ACCESS_RECORDS)
    details.mint = { records: ACCESS_RECORDS, ms: since(t0) }
    progress(`consent: minted ${fmtInt(ACCESS_RECORDS)} records in ${fmt(details.mint.ms / 1000)} s; one Categories grant to the reader`)
    const bulkReader = labelled('bulk reader').address
    // A server finds the reader's grant once per block (consent/grants.ts canAccessNow); each record is then one contract check.
    const bulkGrant = await grantOnChain(bulkPatient, bulkReader, { scope: 'categories', categories: ['laboratory'] })

    let httpRequests = 0
    const countingTransport = (batch: boolean) =>
      http(rpcUrl, { batch: batch ? { batchSize: CHUNK } : false, onFetchRequest: () => void httpRequests++ })
    const plainClient = createPublicClient({ chain: clients.chain, transport: countingTransport(false) })
    const batchClient = createPublicClient({ chain: clients.chain, transport: countingTransport(true) })
    const check = async (client: typeof plainClient, tokenId: bigint) => {
      const allowed = await client.readContract({
        address: deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'canAccessWith',
        args: [bulkReader, tokenId, bulkGrant.grantId, bulkGrant.terms],
      })
      if (!allowed) throw new Error(`canAccessWith(${tokenId}) is false`)
    }
    const inChunks = async (client: typeof plainClient) => {
      for (let i = 0; i < bulkTokens.length; i += CHUNK) await Promise.all(bulkTokens.slice(i, i + CHUNK).map((t) => check(client, t)))
    }
    const modes: { key: string; label: string; run: () => Promise<void> }[] = [
      {
        key: 'canAccessSequential',
        label: '(a) sequential eth_call',
        run: async () => {
          for (const t of bulkTokens) await check(plainClient, t)
        },
      },
      { key: 'canAccessParallel', label: `(b) Promise.all, chunks of ${CHUNK}`, run: () => inChunks(plainClient) },
      { key: 'canAccessBatch', label: `(c) JSON-RPC batches of ${CHUNK}`, run: () => inChunks(batchClient) },
    ]
    // Warm-up (connections, JIT, anvil's state cache), untimed.
    await Promise.all(bulkTokens.slice(0, CHUNK).map((t) => check(plainClient, t)))
    await Promise.all(bulkTokens.slice(0, CHUNK).map((t) => check(batchClient, t)))
    for (const mode of modes) {
      progress(`consent: canAccess x ${fmtInt(bulkTokens.length)}, ${mode.label}`)
      httpRequests = 0
      t0 = performance.now()
      await mode.run()
      details.canAccess.push({ mode: mode.key, checks: bulkTokens.length, ms: since(t0), httpRequests })
    }

    // ------------------------------------------------------------ (b) the audit trail
    const signer = await funded('audit signer')
    const auditCtx: AuditWriteContext = { publicClient, walletFor: clients.walletFor, deployment }
    const event = (i: number): AuditEvent => ({
      actor: bulkReader,
      action: 'read',
      tokenId: bulkTokens[i % bulkTokens.length]!,
      patient: bulkPatient.address,
      purpose: 'treatment',
      outcome: 'allowed',
      reason: 'grant',
    })
    progress(`audit: ${SYNC_APPENDS} appends with fdatasync (the default), for comparison`)
    const syncLog = await openAuditLog({ dir: join(dir.path, 'audit-sync'), signer, sync: true })
    t0 = performance.now()
    for (let i = 0; i < SYNC_APPENDS; i++) await syncLog.append(event(i))
    details.syncAppendMs = since(t0)

    const log = await openAuditLog({ dir: join(dir.path, 'audit'), signer, sync: false })
    let seq = 0
    const appendAll = async (n: number): Promise<AuditEntry[]> => {
      const entries: AuditEntry[] = []
      for (let i = 0; i < n; i++) {
        entries.push(await log.append(event(seq++)))
        if (n >= 10_000 && (i + 1) % 2500 === 0) progress(`audit: appended ${fmtInt(i + 1)} of ${fmtInt(n)}`)
      }
      return entries
    }
    // The log's first batch also starts its batch list on chain; the sizes below are steady-state batches.
    progress('audit: first batch of the log (1 entry)')
    await appendAll(1)
    const first = await anchorPending(auditCtx, log, { maxBatch: 1 })
    if (!first) throw new Error('anchorPending anchored nothing')
    details.auditFirstBatchGas = Number((await receipt(first.txHash)).gasUsed)
    for (const size of AUDIT_BATCHES) {
      progress(`audit: appending ${fmtInt(size)} entries (sync: false)`)
      t0 = performance.now()
      const entries = await appendAll(size)
      const appendMs = since(t0)
      progress(`audit: building the tree and anchoring ${fmtInt(size)} entries`)
      t0 = performance.now()
      const tree = auditBatchTree(entries)
      const treeMs = since(t0)
      t0 = performance.now()
      const anchored = await anchorPending(auditCtx, log, { maxBatch: size })
      const anchorMs = since(t0)
      if (!anchored || anchored.firstSeq !== entries[0]!.seq || anchored.lastSeq !== entries.at(-1)!.seq || anchored.remaining !== 0) {
        throw new Error(`anchorPending did not anchor exactly entries ${entries[0]!.seq}..${entries.at(-1)!.seq}`)
      }
      if (anchored.root !== tree.root) throw new Error(`anchored root ${anchored.root} is not the tree's ${tree.root}`)
      const gasUsed = Number((await receipt(anchored.txHash)).gasUsed)
      details.audit.push({ size, gasUsed, appendMs, treeMs, anchorMs })
    }

    // ------------------------------------------------------------ metrics and report
    const series = (key: string) => details.gas[key] ?? []
    const ops = [
      ...grantKinds.map((k) => ({ key: k.key, label: k.label, value: steady(series(k.key)), basis: `median of 2..${GRANT_SERIES}` })),
      { key: 'revoke', label: 'ConsentRegistry.revoke', value: median(series('revoke')), basis: 'median, all' },
    ]
    const metrics: Metrics = {}
    for (const op of ops) metrics[`gas.consent.${op.key}`] = { label: op.label, value: op.value, unit: 'gas', kind: 'gas' }
    metrics['gas.consent.canAccess1'] = { label: 'canAccess estimate, 1 grant', value: accessGas1, unit: 'gas', kind: 'gas' }
    metrics[`gas.consent.canAccess${MANY_GRANTS}`] = {
      label: `canAccess estimate, ${MANY_GRANTS} grants`,
      value: accessGasMany,
      unit: 'gas',
      kind: 'gas',
    }
    const perGrant = (accessGasMany - accessGas1) / (MANY_GRANTS - 1)
    metrics['gas.consent.canAccessPerGrant'] = {
      label: 'canAccess estimate, per extra grant',
      value: perGrant,
      unit: 'gas/grant',
      kind: 'info',
    }
    metrics['gas.audit.anchorFirst'] = {
      label: "AuditAnchor.anchor, a log's first batch",
      value: details.auditFirstBatchGas,
      unit: 'gas',
      kind: 'gas',
    }
    for (const a of details.audit) {
      metrics[`gas.audit.anchor${a.size}`] = {
        label: `AuditAnchor.anchor, batch of ${fmtInt(a.size)}`,
        value: a.gasUsed,
        unit: 'gas',
        kind: 'gas',
      }
      metrics[`gas.audit.perEntry${a.size}`] = {
        label: `AuditAnchor.anchor gas per entry, batch of ${fmtInt(a.size)}`,
        value: a.gasUsed / a.size,
        unit: 'gas/entry',
        kind: 'info',
      }
    }
    const big = details.audit.find((a) => a.size === Math.max(...AUDIT_BATCHES))!
    const rate = (n: number, ms: number) => n / (ms / 1000)
    metrics['throughput.audit.append'] = {
      label: `audit append (sync: false), ${fmtInt(big.size)} entries`,
      value: rate(big.size, big.appendMs),
      unit: 'entries/s',
      kind: 'throughput',
    }
    metrics['throughput.audit.appendSync'] = {
      label: `audit append (sync: true), ${SYNC_APPENDS} entries`,
      value: rate(SYNC_APPENDS, details.syncAppendMs),
      unit: 'entries/s',
      kind: 'info',
    }
    metrics['throughput.audit.tree'] = {
      label: `audit Merkle tree build, ${fmtInt(big.size)} leaves`,
      value: rate(big.size, big.treeMs),
      unit: 'leaves/s',
      kind: 'throughput',
    }
    metrics['throughput.audit.anchorPending'] = {
      label: `anchorPending (check + tree + tx), ${fmtInt(big.size)} entries`,
      value: rate(big.size, big.anchorMs),
      unit: 'entries/s',
      kind: 'throughput',
    }
    for (const [i, c] of details.canAccess.entries()) {
      metrics[`throughput.consent.${c.mode}`] = {
        label: `canAccess ${modes[i]!.label}`,
        value: rate(c.checks, c.ms),
        unit: 'checks/s',
        kind: 'throughput',
      }
    }
    metrics['throughput.consent.bulkMint'] = {
      label: `bulk mint (setup), ${fmtInt(ACCESS_RECORDS)} records`,
      value: rate(details.mint.records, details.mint.ms),
      unit: 'records/s',
      kind: 'info',
    }

    const grantRows = ops.map((op) => [
      op.label,
      fmtInt(op.value),
      fmtInt(series(op.key)[0] ?? Number.NaN),
      series(op.key)
        .map((g) => fmtInt(g))
        .join(' '),
      op.basis,
    ])
    const auditRows = details.audit.map((a) => [
      fmtInt(a.size),
      fmtInt(a.gasUsed),
      fmt(a.gasUsed / a.size, a.size >= 1000 ? 2 : 1),
      fmt(a.appendMs),
      fmt(a.appendMs / a.size, 2),
      fmt(a.treeMs, a.treeMs < 10 ? 2 : 1),
      fmt(a.anchorMs),
    ])
    const accessRows = details.canAccess.map((c, i) => [
      modes[i]!.label,
      fmt(c.ms),
      fmt(c.ms / c.checks, 3),
      fmtInt(Math.round(rate(c.checks, c.ms))),
      fmtInt(c.httpRequests),
    ])
    const report = [
      `anvil ${rpcUrl}, chain ${chain.chainId}; gasUsed from receipts and eth_estimateGas (both include 21,000 intrinsic + calldata)`,
      '',
      table(['operation', 'gas (steady)', 'first call', 'all calls', 'figure'], grantRows),
      '',
      `Audit batches (one log; its first batch cost ${fmtInt(details.auditFirstBatchGas)} gas, the rows are later batches).`,
      `Appends use sync: false; with fdatasync (the default) ${SYNC_APPENDS} appends took ${fmt(details.syncAppendMs / SYNC_APPENDS, 2)} ms each.`,
      'anchorPending re-reads the log, checks every entry of the batch (hash, link, signature), rebuilds the tree and sends the tx.',
      '',
      table(['batch size', 'anchor gas', 'gas/entry', 'append N (ms)', 'ms/append', 'tree (ms)', 'anchorPending (ms)'], auditRows),
      '',
      `canAccess of ${fmtInt(ACCESS_RECORDS)} records of one patient by one grantee (one Categories grant); ` +
        `minting them took ${fmt(details.mint.ms / 1000)} s`,
      '',
      table(['mode', 'total (ms)', 'ms/check', 'checks/s', 'HTTP requests'], accessRows),
      '',
      `canAccess eth_estimateGas: 1 grant ${fmtInt(accessGas1)} gas; ${MANY_GRANTS} grants (the last one covers) ` +
        `${fmtInt(accessGasMany)} gas, i.e. ${fmtInt(Math.round(perGrant))} gas per extra grant.`,
    ].join('\n')
    return { metrics, details, report }
  } finally {
    await chain?.stop().catch(() => undefined)
    dir.remove()
  }
}
