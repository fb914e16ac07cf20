import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { inflateRawSync } from 'node:zlib'
import type { Bundle } from '@medplum/fhirtypes'
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK } from 'jose'
import { HEALTH_CARD_TYPE, generateIssuerKey, issueHealthCard, jwksOf } from './issue.js'

const ISS = 'https://issuer.medvault.example'

function immunizationBundle(): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
        resource: { resourceType: 'Patient', id: 'pat', name: [{ family: 'Anyperson', given: ['John', 'B.'] }], birthDate: '1951-01-20' },
      },
      {
        fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222',
        resource: {
          resourceType: 'Immunization',
          id: 'imm',
          status: 'completed',
          vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207', display: 'COVID-19, mRNA' }] },
          patient: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
          occurrenceDateTime: '2021-01-01',
          lotNumber: '0000001',
        },
      },
    ],
  }
}

describe('generateIssuerKey / jwksOf', () => {
  it('makes an ES256 key with kid = RFC 7638 thumbprint, use sig, alg ES256', async () => {
    const { privateJwk, publicJwk } = await generateIssuerKey()
    assert.equal(publicJwk.kty, 'EC')
    assert.equal(publicJwk.crv, 'P-256')
    assert.equal(publicJwk.use, 'sig')
    assert.equal(publicJwk.alg, 'ES256')
    assert.equal(publicJwk.d, undefined)
    assert.equal(typeof privateJwk.d, 'string')
    assert.equal(publicJwk.kid, await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: publicJwk.x!, y: publicJwk.y! }, 'sha256'))
  })

  it('jwksOf never publishes private material', async () => {
    const { privateJwk } = await generateIssuerKey()
    const jwks = jwksOf([privateJwk])
    assert.equal(jwks.keys.length, 1)
    assert.equal(jwks.keys[0]!.d, undefined)
    assert.equal(jwks.keys[0]!.kid, privateJwk.kid)
  })
})

describe('issueHealthCard', () => {
  it('produces a card that verifies independently (jose compactVerify + raw inflate by hand)', async () => {
    const { privateJwk, publicJwk } = await generateIssuerKey()
    const { jws, payload } = await issueHealthCard({
      bundle: immunizationBundle(),
      issuerUrl: ISS,
      privateJwk,
      nbf: 1700000000,
      rid: 'AQPCj4wwk6Mt',
      types: ['https://smarthealth.cards#immunization'],
    })
    const header = decodeProtectedHeader(jws)
    assert.deepEqual(header, { alg: 'ES256', zip: 'DEF', kid: publicJwk.kid })

    const key = await importJWK(publicJwk, 'ES256')
    const { payload: compressed } = await compactVerify(jws, key)
    const json = inflateRawSync(compressed).toString('utf8')
    assert.ok(!/\n|": /.test(json), 'payload JSON is minified')
    assert.deepEqual(JSON.parse(json), payload)
    const decoded = JSON.parse(json)
    assert.equal(decoded.iss, ISS)
    assert.equal(decoded.nbf, 1700000000)
    assert.deepEqual(decoded.vc.type, [HEALTH_CARD_TYPE, 'https://smarthealth.cards#immunization'])
    assert.equal(decoded.vc.rid, 'AQPCj4wwk6Mt')
    assert.equal(decoded.vc.credentialSubject.fhirVersion, '4.0.1')
    const bundle = decoded.vc.credentialSubject.fhirBundle
    assert.equal(bundle.entry[0].fullUrl, 'resource:0')
    assert.equal(bundle.entry[0].resource.birthDate, '1951-01-20')
    assert.equal(bundle.entry[0].resource.id, undefined)
    assert.equal(bundle.entry[1].resource.patient.reference, 'resource:0')
    assert.deepEqual(bundle.entry[1].resource.vaccineCode.coding, [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }])
  })

  it('defaults nbf to now and can skip minimization', async () => {
    const { privateJwk } = await generateIssuerKey()
    const before = Math.floor(Date.now() / 1000)
    const { payload } = await issueHealthCard({ bundle: immunizationBundle(), issuerUrl: ISS, privateJwk, minimize: false })
    assert.ok(payload.nbf >= before && payload.nbf <= before + 5)
    assert.equal(payload.vc.credentialSubject.fhirBundle.entry![0]!.resource!.id, 'pat')
    assert.equal(payload.vc.rid, undefined)
  })

  it('rejects a bad issuer URL, a bad rid and a non-P-256 key', async () => {
    const { privateJwk } = await generateIssuerKey()
    const bundle = immunizationBundle()
    await assert.rejects(issueHealthCard({ bundle, issuerUrl: `${ISS}/`, privateJwk }), /trailing|end with/)
    await assert.rejects(issueHealthCard({ bundle, issuerUrl: 'http://issuer.example', privateJwk }), /https/)
    await assert.rejects(issueHealthCard({ bundle, issuerUrl: ISS, privateJwk, rid: 'has space' }), /rid/)
    await assert.rejects(issueHealthCard({ bundle, issuerUrl: ISS, privateJwk, rid: 'x'.repeat(25) }), /rid/)
    const { d: _d, ...publicOnly } = privateJwk
    await assert.rejects(issueHealthCard({ bundle, issuerUrl: ISS, privateJwk: publicOnly }), /P-256 private key/)
  })
})
