/**
 * Proof of treatment for an insurer: the patient discloses chosen fields of chosen records, bound
 * to one insurer (audience) and one nonce, and signs the presentation. The insurer checks each
 * field against the issuer's signed field commitments, the record's on-chain commitment and
 * issuer, and the patient's ownership; undisclosed values never leave the patient's side.
 */
import { randomBytes } from 'node:crypto'
import { type Address, type Hex, getAddress, keccak256, recoverTypedDataAddress, toHex } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { InvalidInputError, MedvaultError } from '../errors.js'
import { recordsDomain, type Leaf, disclosureDigest, fieldsHash, leavesOf, recordFieldsTypes } from '../core/index.js'
import type { RecordsContext } from '../core/index.js'
import { getOnChainRecord, checkIssuerStatus, openRecord } from '../records/index.js'
import { getProvider } from '../directory/index.js'

export type Disclosure = { path: string; value: Leaf['value']; salt: Hex }

export type ClaimPresentation = {
  v: 1
  chainId: number
  records: Address
  audience: Address
  nonce: Hex
  createdAt: string
  items: { tokenId: string; disclosures: Disclosure[]; digests: Hex[]; fieldsSignature: Hex }[]
  /** The patient's EIP-712 ClaimPresentation signature over audience, nonce and the items' hash. */
  signature: Hex
}

const claimTypes = {
  ClaimPresentation: [
    { name: 'audience', type: 'address' },
    { name: 'nonce', type: 'bytes32' },
    { name: 'itemsHash', type: 'bytes32' },
  ],
} as const

const itemsHash = (items: ClaimPresentation['items']) => keccak256(toHex(JSON.stringify(items)))

/** Whether a leaf path is covered by one of the requested paths (a path or any prefix of it). */
const selected = (path: string, wanted: string[]) => wanted.some((w) => path === w || path.startsWith(`${w}/`))

/** Builds and signs a presentation of `fields` (JSON Pointers) of `tokenIds` for `audience`. */
export async function proveClaim(
  ctx: RecordsContext,
  params: { patient: UnlockedAccount; tokenIds: bigint[]; fields: string[]; audience: Address; nonce?: Hex },
): Promise<ClaimPresentation> {
  if (params.fields.length === 0)
    throw new InvalidInputError('Name at least one field to disclose.', { hint: 'e.g. --fields /code,/performedDateTime' })
  const items: ClaimPresentation['items'] = []
  for (const tokenId of params.tokenIds) {
    const { meta, content } = await openRecord(ctx, { tokenId, reader: params.patient })
    const parts: Uint8Array[] = []
    for await (const part of content) parts.push(part)
    if (!meta.fields) {
      throw new InvalidInputError(`Record #${tokenId} has no field commitments, so it cannot back a claim.`, {
        hint: 'Only FHIR records issued with field commitments can; ask the issuer to re-issue it (`medvault record amend`).',
      })
    }
    const leaves = leavesOf(JSON.parse(Buffer.concat(parts).toString('utf8')))
    const digests: Hex[] = []
    const disclosures: Disclosure[] = []
    for (const leaf of leaves) {
      const salt = meta.fields.salts[leaf.path] as Hex | undefined
      if (!salt) throw new MedvaultError(`Record #${tokenId}'s field commitments do not match its content.`)
      digests.push(disclosureDigest(salt, leaf.path, leaf.value))
      if (selected(leaf.path, params.fields)) disclosures.push({ path: leaf.path, value: leaf.value, salt })
    }
    if (disclosures.length === 0) throw new InvalidInputError(`Record #${tokenId} has none of the fields ${params.fields.join(', ')}.`)
    items.push({ tokenId: tokenId.toString(), disclosures, digests: digests.sort(), fieldsSignature: meta.fields.signature as Hex })
  }
  const nonce = params.nonce ?? (`0x${randomBytes(32).toString('hex')}` as Hex)
  const signature = await params.patient.chainAccount.signTypedData({
    domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
    types: claimTypes,
    primaryType: 'ClaimPresentation',
    message: { audience: getAddress(params.audience), nonce, itemsHash: itemsHash(items) },
  })
  return {
    v: 1,
    chainId: ctx.deployment.chainId,
    records: ctx.deployment.records,
    audience: getAddress(params.audience),
    nonce,
    createdAt: new Date().toISOString(),
    items,
    signature,
  }
}

export type ClaimVerdict = {
  valid: boolean
  checks: { id: string; ok: boolean; message: string }[]
  /** The disclosed facts per record, only when valid. */
  disclosed: { tokenId: string; issuer: string; issuedAt: string; fields: Record<string, Leaf['value']> }[]
}

/**
 * Verifies a presentation as `verifier`. `expectedNonce`, when given, must match; `seenNonce`
 * reports and records nonces already used, so a presentation cannot be replayed.
 */
export async function verifyClaim(
  ctx: RecordsContext,
  params: { presentation: ClaimPresentation; verifier: Address; expectedNonce?: Hex; seenNonce?: (nonce: Hex) => Promise<boolean> },
): Promise<ClaimVerdict> {
  const p = params.presentation
  const checks: ClaimVerdict['checks'] = []
  const disclosed: ClaimVerdict['disclosed'] = []
  const check = (id: string, ok: boolean, message: string) => checks.push({ id, ok, message })
  const done = (): ClaimVerdict => ({ valid: checks.every((c) => c.ok), checks, disclosed: checks.every((c) => c.ok) ? disclosed : [] })

  check(
    'chain',
    p.chainId === ctx.deployment.chainId && getAddress(p.records) === getAddress(ctx.deployment.records),
    'The presentation is for this chain and record contract.',
  )
  check('audience', getAddress(p.audience) === getAddress(params.verifier), `The presentation is addressed to ${p.audience}.`)
  if (params.expectedNonce) check('nonce', p.nonce === params.expectedNonce, 'The nonce is the one this verifier asked for.')
  if (params.seenNonce) check('replay', !(await params.seenNonce(p.nonce)), 'This presentation has not been used before.')

  let patient: Address | undefined
  try {
    patient = await recoverTypedDataAddress({
      domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
      types: claimTypes,
      primaryType: 'ClaimPresentation',
      message: { audience: getAddress(p.audience), nonce: p.nonce, itemsHash: itemsHash(p.items) },
      signature: p.signature,
    })
  } catch {
    patient = undefined
  }
  for (const item of p.items) {
    const tokenId = BigInt(item.tokenId)
    const record = await getOnChainRecord(ctx, tokenId).catch(() => undefined)
    if (!record) {
      check(`record-${item.tokenId}`, false, `Record #${item.tokenId} does not exist.`)
      continue
    }
    check(`owner-${item.tokenId}`, patient === record.owner, `Signed by the patient who owns record #${item.tokenId}.`)
    let issuerSigned = false
    try {
      const signer = await recoverTypedDataAddress({
        domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
        types: recordFieldsTypes,
        primaryType: 'RecordFields',
        message: { commitment: record.commitment, fieldsHash: fieldsHash(item.digests) },
        signature: item.fieldsSignature,
      })
      issuerSigned = signer === record.issuer
    } catch {
      issuerSigned = false
    }
    check(`issuer-${item.tokenId}`, issuerSigned, `The field commitments are signed by the record's issuer for its on-chain commitment.`)
    const active = await checkIssuerStatus(ctx, record).then(
      () => true,
      () => false,
    )
    check(`registry-${item.tokenId}`, active, 'The issuer was an active registered provider when it issued the record.')
    const digestSet = new Set(item.digests)
    const fieldsOk = item.disclosures.every((d) => digestSet.has(disclosureDigest(d.salt, d.path, d.value)))
    check(
      `fields-${item.tokenId}`,
      fieldsOk && item.disclosures.length > 0,
      `Every disclosed field of record #${item.tokenId} matches a committed field.`,
    )
    disclosed.push({
      tokenId: item.tokenId,
      issuer: (await getProvider(ctx, record.issuer)).name,
      issuedAt: record.issuedAt.toISOString(),
      fields: Object.fromEntries(item.disclosures.map((d) => [d.path, d.value])),
    })
  }
  const verdict = done()
  if (patient) {
    for (const item of p.items) {
      await ctx.audit
        ?.record({
          actor: getAddress(params.verifier),
          action: 'verify',
          tokenId: BigInt(item.tokenId),
          patient,
          outcome: verdict.valid ? 'allowed' : 'denied',
          reason: 'claim',
          purpose: 'payment',
        })
        .catch(() => undefined)
    }
  }
  return verdict
}
