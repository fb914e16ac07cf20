/**
 * The issuer's attestation check, without Node, so the web portal verifies a record it opened in
 * the browser by exactly the rules the CLI and the server use.
 */
import { type Address, type Hex, getAddress, recoverTypedDataAddress } from 'viem'
import { TamperedRecordError } from '../errors.js'
import { recordAttestationTypes, recordsDomain } from '../core/index.js'
import type { RecordsContext } from '../core/index.js'
import type { RecordMeta } from './envelopeFormat.js'
import type { OnChainRecord } from './onChainRecord.js'

/** Checks the issuer's EIP-712 attestation inside the envelope against the token. */
export async function checkAttestation(
  ctx: Pick<RecordsContext, 'deployment'>,
  record: Pick<OnChainRecord, 'tokenId' | 'commitment' | 'issuer' | 'categoryCode' | 'sensitivity' | 'supersedes'>,
  meta: RecordMeta,
) {
  if (
    meta.category !== record.categoryCode ||
    meta.sensitivity !== record.sensitivity ||
    BigInt(meta.supersedes) !== record.supersedes ||
    getAddress(meta.issuer) !== record.issuer
  ) {
    throw new TamperedRecordError(`The stored content does not belong to record #${record.tokenId}.`, {
      hint: 'Its sealed description differs from the token (category, issuer or amendment link). Do not trust it.',
    })
  }
  const signer = await attestationSigner(
    ctx,
    {
      patient: getAddress(meta.patient),
      commitment: record.commitment,
      category: record.categoryCode,
      sensitivity: record.sensitivity,
      supersedes: record.supersedes,
    },
    meta.attestation as Hex,
  )
  if (signer !== record.issuer) {
    throw new TamperedRecordError(`The issuer signature on record #${record.tokenId} is not valid for this token.`, {
      details: 'issuer-signature',
      hint: 'The record was not signed by the provider the chain names as its issuer, or its content was swapped. Do not trust it.',
    })
  }
}

/**
 * Who signed an issuer attestation (EIP-712 `RecordAttestation` in this deployment's domain), or the
 * zero address for a signature that does not even parse. Tokens and archive leaves both check it.
 */
export async function attestationSigner(
  ctx: Pick<RecordsContext, 'deployment'>,
  message: { patient: Address; commitment: Hex; category: number; sensitivity: number; supersedes: bigint },
  signature: Hex,
): Promise<Address> {
  try {
    return await recoverTypedDataAddress({
      domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
      types: recordAttestationTypes,
      primaryType: 'RecordAttestation',
      message,
      signature,
    })
  } catch {
    return '0x0000000000000000000000000000000000000000'
  }
}
