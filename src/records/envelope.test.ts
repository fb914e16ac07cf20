import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { bytesToHex, getAddress } from 'viem'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/hpke.js'
import { AccessDeniedError, TamperedRecordError } from '../errors.js'
import { type RecordMeta, openEnvelope, readEnvelopeHeader, sealEnvelope } from './envelope.js'
import { ByteReader } from './byteReader.js'

async function collect(source: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

async function* once(bytes: Uint8Array) {
  yield bytes
}

const patient = getAddress(bytesToHex(randomBytes(20)))
const meta: RecordMeta = {
  v: 1,
  contentType: 'application/octet-stream',
  size: 5000,
  sha256: bytesToHex(randomBytes(32)),
  salt: bytesToHex(randomBytes(32)),
  patient,
  issuer: patient,
  category: 1,
  sensitivity: 0,
  tag: '0x0123456789abcdef',
  supersedes: '0',
  attestation: bytesToHex(randomBytes(65)),
}

describe('record envelope', () => {
  it('opens for its recipient whatever the spelling of the address, and for no one else', async () => {
    const seed = generateEncryptionSeed()
    const { publicKey } = await encryptionKeyPairFromSeed(seed)
    const content = randomBytes(5000)
    const sealed = await collect(
      await sealEnvelope({
        meta,
        content: once(content),
        recipients: [{ address: patient, encryptionPublicKey: bytesToHex(publicKey) }],
        segmentSize: 1024,
      }),
    )
    const { header } = await readEnvelopeHeader(new ByteReader(once(sealed)))
    assert.equal(header.recipients[0]?.address, patient)
    assert.match(header.recipients[0]?.enc ?? '', /^0x[0-9a-f]{64}$/)

    for (const address of [patient, patient.toLowerCase() as typeof patient]) {
      const opened = await openEnvelope(once(sealed), { address, encryptionSeed: seed })
      assert.deepEqual(opened.meta, meta)
      assert.deepEqual(await collect(opened.content), content)
    }
    const stranger = getAddress(bytesToHex(randomBytes(20)))
    await assert.rejects(openEnvelope(once(sealed), { address: stranger, encryptionSeed: seed }), AccessDeniedError)

    const flipped = Buffer.from(sealed)
    flipped[flipped.length - 100]! ^= 1
    const { content: bad } = await openEnvelope(once(flipped), { address: patient, encryptionSeed: seed })
    await assert.rejects(collect(bad), TamperedRecordError)
  })

  it('refuses a recipient key that is not hex of whole bytes', async () => {
    await assert.rejects(
      sealEnvelope({ meta, content: once(new Uint8Array(1)), recipients: [{ address: patient, encryptionPublicKey: '0xabc' }] }),
      TypeError,
    )
  })
})
