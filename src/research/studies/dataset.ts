import { createHash, hkdfSync } from 'node:crypto'
import { type Address, getAddress, type Hex } from 'viem'
import type { CID } from 'multiformats/cid'
import { TamperedRecordError } from '../../errors.js'
import { openEnvelope, type Recipient, sealEnvelope } from '../../records/index.js'
import type { BlobStore } from '../../storage/index.js'

export const NDJSON = 'application/fhir+ndjson'

/**
 * The patient's pseudonym key for studies: HKDF-SHA256 of the account's encryption seed, so it is
 * stable per patient (the same pseudonym in every delivery to a study) without storing a new
 * secret, and the seed itself never reaches the de-identification code.
 */
export function studyPseudonymKey(encryptionSeed: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', encryptionSeed, new Uint8Array(0), 'medvault/study-pseudonym-key/v1', 32))
}

/** The commitment `deliver` puts on chain: SHA-256 of the plaintext NDJSON. */
export const datasetCommitment = (ndjson: Uint8Array): Hex => `0x${createHash('sha256').update(ndjson).digest('hex')}`

/**
 * Seals a dataset to the researcher with the record envelope (HPKE-wrapped key, AES-256-GCM
 * stream) and stores it. The envelope's meta names the patient as both sides; the record-only
 * fields (salt, attestation) are empty and the category tag is zero, since a dataset is signed by
 * nobody but its commitment and is no record of any category.
 */
export async function sealDataset(
  store: BlobStore,
  params: { ndjson: Uint8Array; patient: Address; researcher: Recipient },
): Promise<{ cid: CID; commitment: Hex }> {
  const commitment = datasetCommitment(params.ndjson)
  const sealed = await sealEnvelope({
    meta: {
      v: 1,
      contentType: NDJSON,
      size: params.ndjson.byteLength,
      sha256: commitment,
      salt: '0x',
      patient: params.patient,
      issuer: params.patient,
      category: 0,
      sensitivity: 0,
      tag: '0x0000000000000000',
      supersedes: '0',
      attestation: '0x',
    },
    content: (async function* () {
      yield params.ndjson
    })(),
    recipients: [params.researcher],
  })
  return { cid: await store.add(sealed), commitment }
}

/** Fetches and opens a delivered dataset as its researcher, and checks it against the on-chain commitment. */
export async function openDataset(
  store: BlobStore,
  params: { cid: CID; commitment: Hex; patient: Address; reader: { address: Address; encryptionSeed: Uint8Array } },
): Promise<Buffer> {
  const { meta, content } = await openEnvelope(store.cat(params.cid), params.reader)
  const parts: Uint8Array[] = []
  for await (const part of content) parts.push(part)
  const ndjson = Buffer.concat(parts)
  if (datasetCommitment(ndjson) !== params.commitment.toLowerCase() || getAddress(meta.patient) !== getAddress(params.patient)) {
    throw new TamperedRecordError(`The dataset ${params.cid} does not match the commitment its patient put on chain.`, {
      hint: 'The stored copy was altered or is not the delivered one; raise it with the patient.',
    })
  }
  return ndjson
}
