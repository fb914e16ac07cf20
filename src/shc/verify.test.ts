import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { deflateRawSync } from 'node:zlib'
import type { Bundle } from '@medplum/fhirtypes'
import { CompactSign, type JWK, importJWK } from 'jose'
import { type IssuerKey, generateIssuerKey, issueHealthCard } from './issue.js'
import { healthCardFile, toQrChunks, toQrNumeric } from './qr.js'
import {
  type CheckId,
  type Verdict,
  type VerifyOptions,
  crlUrl,
  isRidRevoked,
  parseCrl,
  revocationCheckerFromCrls,
  verifyHealthCard,
  verifyHealthCards,
} from './verify.js'

const ISS = 'https://issuer.medvault.example'
const NOW = 1_750_000_000

function immunizationBundle(): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: 'urn:uuid:p',
        resource: { resourceType: 'Patient', name: [{ family: 'Anyperson', given: ['Jane'] }], birthDate: '1961-01-20' },
      },
      {
        fullUrl: 'urn:uuid:i',
        resource: {
          resourceType: 'Immunization',
          status: 'completed',
          vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }] },
          patient: { reference: 'urn:uuid:p' },
          occurrenceDateTime: '2021-01-01',
        },
      },
    ],
  }
}

let key: IssuerKey
let other: IssuerKey
let opts: VerifyOptions

function failed(v: Verdict): CheckId[] {
  return v.checks.filter((c) => !c.ok).map((c) => c.id)
}

/** Signs an arbitrary payload the way an issuer would (for malformed-card tests). */
async function signRaw(payload: unknown, jwk: JWK, header: Record<string, unknown> = {}): Promise<string> {
  const k = await importJWK({ kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y!, d: jwk.d! }, 'ES256')
  const bytes = deflateRawSync(Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)))
  return new CompactSign(bytes).setProtectedHeader({ alg: 'ES256', zip: 'DEF', kid: jwk.kid!, ...header }).sign(k)
}

before(async () => {
  key = await generateIssuerKey()
  other = await generateIssuerKey()
  opts = {
    resolveIssuer: (iss) => (iss === ISS ? { keys: [key.publicJwk], name: 'MedVault Test Issuer', source: 'test trust list' } : undefined),
    now: NOW,
  }
})

describe('verifyHealthCard', () => {
  it('accepts a valid card given as JWS, shc:/ text, file JSON, and QR chunks', async () => {
    const { jws, payload } = await issueHealthCard({
      bundle: immunizationBundle(),
      issuerUrl: ISS,
      privateJwk: key.privateJwk,
      nbf: NOW - 10,
    })
    for (const input of [jws, toQrNumeric(jws), JSON.stringify(healthCardFile([jws])), ` ${jws}\n`]) {
      const v = await verifyHealthCard(input, opts)
      assert.equal(v.valid, true, JSON.stringify(v.checks))
      assert.deepEqual(v.payload, payload)
      assert.deepEqual(v.issuer, { iss: ISS, name: 'MedVault Test Issuer', source: 'test trust list' })
      assert.equal(v.kid, key.publicJwk.kid)
      assert.deepEqual(v.checks.map((c) => c.id).sort(), ['fhir', 'format', 'issuer', 'nbf', 'revocation', 'signature', 'size'])
    }
  })

  it('rejects a tampered payload', async () => {
    const { jws } = await issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk: key.privateJwk, nbf: NOW })
    const [h, , s] = jws.split('.')
    const forged = deflateRawSync(
      Buffer.from(
        JSON.stringify({
          iss: ISS,
          nbf: NOW,
          vc: {
            type: ['https://smarthealth.cards#health-card'],
            credentialSubject: { fhirVersion: '4.0.1', fhirBundle: { resourceType: 'Bundle', entry: [] } },
          },
        }),
      ),
    )
    const v = await verifyHealthCard(`${h}.${forged.toString('base64url')}.${s}`, opts)
    assert.equal(v.valid, false)
    assert.deepEqual(failed(v), ['signature'])
  })

  it('rejects a card signed with a different key under the same kid, and an unknown kid', async () => {
    const wrongKey = await signRaw({ iss: ISS, nbf: NOW, vc: {} }, { ...other.privateJwk, kid: key.publicJwk.kid! })
    const v1 = await verifyHealthCard(wrongKey, opts)
    assert.deepEqual(failed(v1), ['signature'])
    const { jws } = await issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk: other.privateJwk, nbf: NOW })
    const v2 = await verifyHealthCard(jws, opts)
    assert.deepEqual(failed(v2), ['signature'])
    assert.match(v2.checks.find((c) => c.id === 'signature')!.message, /no key with kid/)
  })

  it('rejects a key whose kid is not its thumbprint', async () => {
    const badKid = 'not-the-thumbprint'
    const jws = await signRaw({ iss: ISS, nbf: NOW, vc: {} }, { ...key.privateJwk, kid: badKid })
    const v = await verifyHealthCard(jws, {
      ...opts,
      resolveIssuer: () => ({ keys: [{ ...key.publicJwk, kid: badKid }], name: 'x', source: 'y' }),
    })
    assert.match(v.checks.find((c) => c.id === 'signature')!.message, /thumbprint/)
  })

  it('rejects an unknown issuer', async () => {
    const { jws } = await issueHealthCard({
      bundle: immunizationBundle(),
      issuerUrl: 'https://rogue.example',
      privateJwk: key.privateJwk,
      nbf: NOW,
    })
    const v = await verifyHealthCard(jws, opts)
    assert.equal(v.valid, false)
    assert.deepEqual(failed(v), ['issuer'])
    assert.equal(v.issuer, undefined)
  })

  it('rejects a revoked rid, honouring rid.timestamp entries against nbf', async () => {
    const crl = parseCrl({ kid: key.publicJwk.kid, method: 'rid', ctr: 2, rids: ['revokedRid', 'userRid.1700000000'] })
    const isRevoked = revocationCheckerFromCrls(new Map([[`${ISS}|${key.publicJwk.kid}`, crl]]))
    const card = (rid: string, nbf: number) =>
      issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk: key.privateJwk, nbf, rid })

    const revoked = await verifyHealthCard((await card('revokedRid', NOW)).jws, { ...opts, isRevoked })
    assert.deepEqual(failed(revoked), ['revocation'])
    const oldCard = await verifyHealthCard((await card('userRid', 1_600_000_000)).jws, { ...opts, isRevoked })
    assert.deepEqual(failed(oldCard), ['revocation'])
    const newCard = await verifyHealthCard((await card('userRid', NOW)).jws, { ...opts, isRevoked })
    assert.equal(newCard.valid, true)
    const fine = await verifyHealthCard((await card('otherRid', NOW)).jws, { ...opts, isRevoked })
    assert.equal(fine.valid, true)
  })

  it('requires a revocation source when the issuer key advertises crlVersion', async () => {
    const { jws } = await issueHealthCard({
      bundle: immunizationBundle(),
      issuerUrl: ISS,
      privateJwk: key.privateJwk,
      nbf: NOW,
      rid: 'abc',
    })
    const v = await verifyHealthCard(jws, {
      ...opts,
      resolveIssuer: () => ({ keys: [{ ...key.publicJwk, crlVersion: 1 } as JWK], name: 'n', source: 's' }),
    })
    assert.deepEqual(failed(v), ['revocation'])
  })

  it('rejects a future nbf but tolerates small clock skew', async () => {
    const future = await issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk: key.privateJwk, nbf: NOW + 3600 })
    assert.deepEqual(failed(await verifyHealthCard(future.jws, opts)), ['nbf'])
    const skewed = await issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk: key.privateJwk, nbf: NOW + 30 })
    assert.equal((await verifyHealthCard(skewed.jws, opts)).valid, true)
  })

  it('rejects an expired card (exp)', async () => {
    const { jws } = await issueHealthCard({
      bundle: immunizationBundle(),
      issuerUrl: ISS,
      privateJwk: key.privateJwk,
      nbf: NOW - 7200,
      exp: NOW - 3600,
    })
    assert.deepEqual(failed(await verifyHealthCard(jws, opts)), ['exp'])
  })

  it('rejects an over-size payload (inflate bound, JWS bound, single-QR bound)', async () => {
    const bundle = immunizationBundle()
    ;(bundle.entry![0]!.resource as { name: unknown[] }).name = Array.from({ length: 400 }, (_, i) => ({
      family: `Name${i}${'x'.repeat(40)}`,
    }))
    const { jws } = await issueHealthCard({ bundle, issuerUrl: ISS, privateJwk: key.privateJwk, nbf: NOW })
    assert.equal((await verifyHealthCard(jws, opts)).valid, true, 'file/JWS form has no QR limit')
    assert.deepEqual(failed(await verifyHealthCard(jws, { ...opts, maxPayloadBytes: 4096 })), ['size'])
    assert.deepEqual(failed(await verifyHealthCard(jws, { ...opts, maxJwsLength: 200 })), ['size'])
    assert.ok(jws.length > 1195)
    assert.deepEqual(failed(await verifyHealthCard(jws, { ...opts, requireQrSize: true })), ['size'])
    // a deflate bomb: 50 MB of zeros compresses to ~50 KB
    const bomb = await signRaw(`{"iss":"${ISS}","pad":"${'0'.repeat(50_000_000)}"}`, key.privateJwk)
    const v = await verifyHealthCard(bomb, opts)
    assert.deepEqual(failed(v), ['size'])
  })

  it('verifies a chunked QR set (array of shc:/C/N/ texts)', async () => {
    const bundle = immunizationBundle()
    ;(bundle.entry![0]!.resource as { name: unknown[] }).name = Array.from({ length: 60 }, (_, i) => ({
      family: `Family${i}`,
      given: [`G${i * 7919}`],
    }))
    const { jws } = await issueHealthCard({ bundle, issuerUrl: ISS, privateJwk: key.privateJwk, nbf: NOW })
    const chunks = toQrChunks(jws)
    assert.ok(chunks.length > 1, `needs chunking (${jws.length})`)
    assert.equal((await verifyHealthCard([...chunks].reverse(), opts)).valid, true)
    const partial = await verifyHealthCard(chunks[0]!, opts)
    assert.deepEqual(failed(partial), ['format'])
    assert.equal((await verifyHealthCard(toQrNumeric(jws.slice(0, 1195)), opts)).valid, false, 'a truncated card does not verify')
  })

  it('checks header alg/zip/kid and the FHIR content', async () => {
    const ok = {
      iss: ISS,
      nbf: NOW,
      vc: {
        type: ['https://smarthealth.cards#health-card'],
        credentialSubject: { fhirVersion: '4.0.1', fhirBundle: { resourceType: 'Bundle', type: 'collection', entry: [] } },
      },
    }
    assert.equal((await verifyHealthCard(await signRaw(ok, key.privateJwk), opts)).valid, true)
    assert.deepEqual(failed(await verifyHealthCard(await signRaw(ok, key.privateJwk, { zip: undefined }), opts)), ['format'])
    const k = await importJWK({ ...key.privateJwk }, 'ES256')
    const noZip = await new CompactSign(Buffer.from(JSON.stringify(ok)))
      .setProtectedHeader({ alg: 'ES256', kid: key.publicJwk.kid! })
      .sign(k)
    assert.match((await verifyHealthCard(noZip, opts)).checks[0]!.message, /zip/)
    const noBundle = { ...ok, vc: { type: ['https://smarthealth.cards#health-card'], credentialSubject: { fhirVersion: '4.0.1' } } }
    assert.deepEqual(failed(await verifyHealthCard(await signRaw(noBundle, key.privateJwk), opts)), ['fhir'])
    const noType = { ...ok, vc: { ...ok.vc, type: ['VerifiableCredential'] } }
    assert.deepEqual(failed(await verifyHealthCard(await signRaw(noType, key.privateJwk), opts)), ['fhir'])
  })

  it('never throws on garbage and reports why', async () => {
    const inputs: unknown[] = [
      '',
      'abc',
      'a.b.c',
      'shc:/99',
      '{"verifiableCredential":[]}',
      '{not json',
      'shc:/1/2/5656',
      null,
      42,
      [],
      ['shc:/x'],
    ]
    for (const input of inputs) {
      const v = await verifyHealthCard(input as string, opts)
      assert.equal(v.valid, false, String(input))
      assert.ok(v.checks.length > 0 && v.checks.every((c) => c.message.length > 0))
    }
    const throwing = await verifyHealthCard(
      (await issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk: key.privateJwk, nbf: NOW, rid: 'r' })).jws,
      {
        ...opts,
        isRevoked: () => {
          throw new Error('CRL fetch failed')
        },
      },
    )
    assert.deepEqual(failed(throwing), ['revocation'])
    const badResolver = await verifyHealthCard(
      (await issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk: key.privateJwk, nbf: NOW })).jws,
      {
        resolveIssuer: () => Promise.reject(new Error('network down')),
        now: NOW,
      },
    )
    assert.deepEqual(failed(badResolver), ['issuer'])
  })

  it('verifyHealthCards checks every credential of a file', async () => {
    const a = await issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk: key.privateJwk, nbf: NOW })
    const b = await issueHealthCard({
      bundle: immunizationBundle(),
      issuerUrl: 'https://rogue.example',
      privateJwk: key.privateJwk,
      nbf: NOW,
    })
    const file = JSON.stringify(healthCardFile([a.jws, b.jws]))
    const verdicts = await verifyHealthCards(file, opts)
    assert.deepEqual(
      verdicts.map((v) => v.valid),
      [true, false],
    )
    assert.deepEqual(failed(await verifyHealthCard(file, opts)), ['format'])
  })
})

describe('card revocation lists', () => {
  it('builds the well-known URL', () => {
    assert.equal(crlUrl(ISS, 'abc_-1'), `${ISS}/.well-known/crl/abc_-1.json`)
  })

  it('parses the spec document and rejects malformed ones', () => {
    const crl = parseCrl('{"kid":"k","method":"rid","ctr":"1","rids":["AQPCj4wwk6Mt","lHKzqFUMjhs.1636977600"]}')
    assert.deepEqual(crl, { kid: 'k', method: 'rid', ctr: 1, rids: ['AQPCj4wwk6Mt', 'lHKzqFUMjhs.1636977600'] })
    assert.throws(() => parseCrl({ kid: 'k', method: 'other', ctr: 1, rids: [] }), /method/)
    assert.throws(() => parseCrl({ kid: 'k', method: 'rid', ctr: 0, rids: [] }), /ctr/)
    assert.throws(() => parseCrl({ kid: 'k', method: 'rid', ctr: 1, rids: ['has space'] }), /entry/)
    assert.throws(() => parseCrl({ kid: 'k', method: 'rid', ctr: 1, rids: ['x.notanumber'] }), /entry/)
    assert.throws(() => parseCrl({ method: 'rid', ctr: 1, rids: [] }), /kid/)
  })

  it('applies the spec example: plain rid always, rid.timestamp only for cards with nbf before it', () => {
    const crl = parseCrl({ kid: 'k', method: 'rid', ctr: 1, rids: ['AQPCj4wwk6Mt', 'lHKzqFUMjhs.1636977600'] })
    assert.equal(isRidRevoked(crl, 'AQPCj4wwk6Mt', 2_000_000_000), true)
    assert.equal(isRidRevoked(crl, 'lHKzqFUMjhs', 1636977599), true)
    assert.equal(isRidRevoked(crl, 'lHKzqFUMjhs', 1636977600), false)
    assert.equal(isRidRevoked(crl, 'other', 0), false)
  })
})
