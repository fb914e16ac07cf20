import { createHash } from 'node:crypto'
import { type Address, type Hex, bytesToHex, parseEventLogs } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import type { CID } from 'multiformats/cid'
import { toMedvaultError } from '../chain/errors.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { commitFields, recordFieldsTypes } from '../claims/fields.js'
import { wrapKeySlip } from '../consent/keySlips.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { computeCommitment, randomKey, randomSalt } from '../crypto/index.js'
import { encryptionKeyOf } from '../directory/directory.js'
import { ChainError, InvalidInputError } from '../errors.js'
import { mintConsentTypes, recordAttestationTypes, recordsDomain } from './attestation.js'
import { type Category, categoryCode, requiredSensitivity } from './categories.js'
import type { OnProgress, RecordsContext } from './context.js'
import { FHIR_JSON } from './documentInput.js'
import { type Recipient, type RecordMeta, sealEnvelope } from './envelope.js'

/** A document given as bytes, or as a stream that can be opened twice (hashed, then encrypted). */
export type RecordContent = { bytes: Uint8Array } | { open: () => AsyncIterable<Uint8Array> }

export type PatientConsent =
  /** The patient's key is at hand: sign an EIP-712 MintConsent for this one record. */
  | { patient: LocalAccount; validForSeconds?: number }
  /** The patient authorised this provider on chain beforehand (`authorizeProvider`). */
  | { standing: true }

export type IssueRecordParameters = {
  issuer: LocalAccount
  patient: Recipient
  content: RecordContent
  contentType: string
  category: Category
  /** Extra sensitivity flags; the category's own flag is always added. */
  sensitivity?: number
  consent: PatientConsent
  /** Token this record corrects (amendment). */
  supersedes?: bigint
  onProgress?: OnProgress
}

export type IssueRecordReturnType = {
  tokenId: bigint
  cid: CID
  commitment: Hex
  txHash: Hex
  gasUsed: bigint
}

function openContent(content: RecordContent): AsyncIterable<Uint8Array> {
  if ('bytes' in content) {
    return (async function* () {
      yield content.bytes
    })()
  }
  return content.open()
}

async function digestOf(content: RecordContent, onProgress?: OnProgress): Promise<{ sha256: Buffer; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of openContent(content)) {
    hash.update(chunk)
    size += chunk.byteLength
    onProgress?.({ stage: 'hashing', bytes: size })
  }
  return { sha256: hash.digest(), size }
}

/** Signs the patient's consent to one mint (EIP-712 MintConsent) with the patient's current nonce. */
export async function signMintConsent(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: {
    patient: LocalAccount
    provider: Address
    commitment: Hex
    category: number
    sensitivity: number
    supersedes?: bigint
    deadline: bigint
  },
): Promise<Hex> {
  if (!params.patient.signTypedData) throw new InvalidInputError('The patient account cannot sign typed data.')
  const nonce = await ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'nonces',
    args: [params.patient.address],
  })
  return params.patient.signTypedData({
    domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
    types: mintConsentTypes,
    primaryType: 'MintConsent',
    message: {
      patient: params.patient.address,
      provider: params.provider,
      commitment: params.commitment,
      category: params.category,
      sensitivity: params.sensitivity,
      supersedes: params.supersedes ?? 0n,
      nonce,
      deadline: params.deadline,
    },
  })
}

/** Signs the issuer's RecordAttestation that travels inside the envelope. */
export async function signAttestation(
  ctx: Pick<RecordsContext, 'deployment'>,
  issuer: LocalAccount,
  message: { patient: Address; commitment: Hex; category: number; sensitivity: number; supersedes: bigint },
): Promise<Hex> {
  if (!issuer.signTypedData) throw new InvalidInputError('The issuer account cannot sign typed data.')
  return issuer.signTypedData({
    domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
    types: recordAttestationTypes,
    primaryType: 'RecordAttestation',
    message,
  })
}

/**
 * Issues a record: hashes the content, commits to it with a fresh salt, signs the issuer's
 * attestation, seals the envelope for the patient, stores it on IPFS and mints the token to the
 * patient with their consent.
 *
 * @example
 * const { tokenId } = await issueRecord(ctx, { issuer: lab.chainAccount, patient: alice, content: { bytes },
 *   contentType: 'application/fhir+json', category: 'laboratory', consent: { patient: alice.chainAccount } })
 */
export async function issueRecord(ctx: RecordsContext, params: IssueRecordParameters): Promise<IssueRecordReturnType> {
  const { issuer, patient, onProgress } = params
  const category = categoryCode(params.category)
  const sensitivity = (params.sensitivity ?? 0) | requiredSensitivity(params.category)
  const supersedes = params.supersedes ?? 0n

  const { sha256, size } = await digestOf(params.content, onProgress)
  const salt = randomSalt()
  const commitment = computeCommitment(salt, sha256)
  const attestation = await signAttestation(ctx, issuer, { patient: patient.address, commitment, category, sensitivity, supersedes })

  // Ask for consent before storing anything, so a refusal leaves no orphan blob behind.
  let deadline = 0n
  let consent: Hex = '0x'
  if ('patient' in params.consent) {
    deadline = BigInt(Math.floor(Date.now() / 1000) + (params.consent.validForSeconds ?? 3600))
    consent = await signMintConsent(ctx, {
      patient: params.consent.patient,
      provider: issuer.address,
      commitment,
      category,
      sensitivity,
      supersedes,
      deadline,
    })
  }
  const request = {
    patient: patient.address,
    commitment,
    cidDigest: `0x${'00'.repeat(32)}` as Hex,
    cidCodec: 0,
    category,
    sensitivity,
  }

  // Dry-run the mint with a placeholder address before storing anything: an inactive issuer, a bad
  // consent or bad fields are refused here and leave no orphan ciphertext behind.
  const base = { account: issuer, address: ctx.deployment.records, abi: medicalRecordAbi } as const
  const preflight = { ...request, cidDigest: `0x${'11'.repeat(32)}` as Hex, cidCodec: 0x55 }
  try {
    if (supersedes === 0n) await ctx.publicClient.simulateContract({ ...base, functionName: 'mint', args: [preflight, deadline, consent] })
    else await ctx.publicClient.simulateContract({ ...base, functionName: 'amend', args: [supersedes, preflight, deadline, consent] })
  } catch (error) {
    throw toMedvaultError(error)
  }

  // FHIR documents also get per-field commitments, so the patient can later disclose single fields.
  let fields: RecordMeta['fields']
  if ('bytes' in params.content && params.contentType === FHIR_JSON && issuer.signTypedData) {
    const committed = commitFields(JSON.parse(Buffer.from(params.content.bytes).toString('utf8')))
    const signature = await issuer.signTypedData({
      domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
      types: recordFieldsTypes,
      primaryType: 'RecordFields',
      message: { commitment, fieldsHash: committed.hash },
    })
    fields = { salts: committed.salts, signature }
  }

  const meta: RecordMeta = {
    v: 1,
    contentType: params.contentType,
    size,
    sha256: bytesToHex(sha256),
    salt: bytesToHex(salt),
    patient: patient.address,
    issuer: issuer.address,
    category,
    sensitivity,
    supersedes: supersedes.toString(),
    attestation,
    ...(fields ? { fields } : {}),
  }
  let encrypted = 0
  const recordKey = randomKey()
  const sealed = await sealEnvelope({ meta, content: openContent(params.content), recipients: [patient], key: recordKey })
  const cid = await ctx.store.add(
    (async function* () {
      for await (const chunk of sealed) {
        encrypted += chunk.byteLength
        onProgress?.({ stage: 'encrypting', bytes: encrypted })
        yield chunk
      }
    })(),
  )
  request.cidDigest = bytesToHex(cid.multihash.digest)
  request.cidCodec = cid.code
  // Grantees whose category or "all" grants cover this new record get its key now, from the
  // issuer, so they can read it while their grant lasts without the patient being online.
  const grantees = ctx.keySlips
    ? await ctx.publicClient.readContract({
        address: ctx.deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'granteesFor',
        args: [patient.address, category, sensitivity],
      })
    : []

  onProgress?.({ stage: 'minting' })
  const wallet = ctx.walletFor(issuer)
  let minted: { tokenId: bigint; txHash: Hex; gasUsed: bigint }
  try {
    const txHash =
      supersedes === 0n
        ? await wallet.writeContract({ ...base, functionName: 'mint', args: [request, deadline, consent] })
        : await wallet.writeContract({ ...base, functionName: 'amend', args: [supersedes, request, deadline, consent] })
    const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash: txHash })
    if (receipt.status !== 'success') throw new ChainError('The mint transaction reverted.')
    const [issued] = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs, eventName: 'RecordIssued' })
    if (!issued) throw new ChainError('The mint transaction emitted no RecordIssued event.')
    minted = { tokenId: issued.args.tokenId, txHash, gasUsed: receipt.gasUsed }
  } catch (error) {
    throw toMedvaultError(error)
  }

  const { tokenId } = minted
  const slip = (grantee: Address, granteeKey: Hex) =>
    wrapKeySlip({ recordKey, tokenId, cid: cid.toString(), grantee, granteeKey, wrappedBy: issuer.address })
  if (ctx.keySlips) {
    for (const grantee of new Set(grantees)) {
      const granteeKey = await encryptionKeyOf(ctx, grantee)
      if (granteeKey) await ctx.keySlips.put(await slip(grantee, granteeKey)) // else: released later by the patient's medvault
    }
    // Non-sensitive records are also escrowed for break-glass access (see consent/keyRelease.ts).
    if (ctx.keyRelease && sensitivity === 0)
      await ctx.keySlips.put(await slip(ctx.keyRelease.escrow.address, ctx.keyRelease.escrow.publicKey))
  }
  recordKey.fill(0)
  return { ...minted, cid, commitment }
}
