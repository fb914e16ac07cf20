import assert from 'node:assert/strict'
import { inflateRawSync } from 'node:zlib'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { compactVerify, importJWK } from 'jose'
import { createGrant } from '../../src/consent/grants.js'
import { setProviderStatus } from '../../src/directory/index.js'
import { AccessDeniedError } from '../../src/errors.js'
import {
  combineTrust,
  generateIssuerKey,
  issueCardFromRecords,
  issueHealthCard,
  jwksOf,
  jwksTrust,
  registryTrust,
  revocationCheckerFromCrls,
  revokeRid,
  startWellKnownServer,
  vciDirectoryTrust,
  verifyHealthCard,
} from '../../src/shc/index.js'
import { type TestStack, issueExample, openTestStack, registrar } from './stack.js'

const BASE = 'https://localhost/medvault/issuers'
const patient = { resourceType: 'Patient' as const, name: [{ family: 'Example', given: ['Alice'] }], birthDate: '1990-04-01' }

describe('SMART Health Cards issued from records, trusted through the on-chain registry', () => {
  let s: TestStack
  let vaccine: bigint
  const dir = mkdtempSync(join(tmpdir(), 'medvault-shc-'))
  const mv = () => s.mv

  before(async () => {
    s = await openTestStack({ providers: { clinic: 'Clinic B', other: 'Other Clinic' }, others: ['alice'] })
    vaccine = await issueExample(s, 'immunization.json', 'clinic', 'alice')
  })
  after(async () => {
    await s.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  it("a provider needs the patient's grant to put a record on a card", async () => {
    await assert.rejects(
      issueCardFromRecords(mv(), { provider: s.accounts.clinic!, tokenIds: [vaccine], patient, issuerBaseUrl: BASE }),
      AccessDeniedError,
    )
  })

  it('issues a card that an independent path (jose + zlib + the registry key) and medvault both verify', async () => {
    await createGrant(mv(), {
      grantor: s.accounts.alice!,
      patient: s.accounts.alice!.address,
      grantee: s.accounts.clinic!.address,
      terms: { scope: 'records', tokenIds: [vaccine] },
      expiresAt: new Date(Date.now() + 3_600_000),
      purpose: 'treatment',
    })
    const card = await issueCardFromRecords(mv(), { provider: s.accounts.clinic!, tokenIds: [vaccine], patient, issuerBaseUrl: BASE })
    // Independent: the key from the chain, the JWS by jose, the payload by zlib.
    const trusted = await registryTrust(mv(), BASE).resolve(card.iss)
    assert.ok(trusted)
    const jwk = trusted.keys.find((k) => k.kid === card.kid)!
    const { payload, protectedHeader } = await compactVerify(card.jws, await importJWK(jwk, 'ES256'))
    assert.deepEqual(protectedHeader, { alg: 'ES256', zip: 'DEF', kid: card.kid })
    const body = JSON.parse(inflateRawSync(payload).toString('utf8'))
    assert.equal(body.iss, `${BASE}/${s.accounts.clinic!.address}`)
    const entries = body.vc.credentialSubject.fhirBundle.entry
    assert.equal(entries[0].resource.resourceType, 'Patient')
    assert.equal(entries[0].resource.birthDate, '1990-04-01')
    assert.equal(entries[1].resource.resourceType, 'Immunization')
    assert.equal(entries[1].resource.patient.reference, 'resource:0')
    assert.equal(entries[1].resource.vaccineCode.coding[0].display, undefined, 'minimised: no Coding.display')

    const verdict = await verifyHealthCard(card.jws, { resolveIssuer: (iss) => registryTrust(mv(), BASE).resolve(iss) })
    assert.equal(verdict.valid, true, JSON.stringify(verdict.checks))
    assert.match(verdict.issuer!.source, /registry/)

    await setProviderStatus(mv(), registrar, s.accounts.clinic!.address, 'suspend')
    const suspended = await verifyHealthCard(card.jws, { resolveIssuer: (iss) => registryTrust(mv(), BASE).resolve(iss) })
    assert.equal(suspended.valid, false)
    assert.equal(suspended.checks.find((c) => c.id === 'issuer')?.ok, false)
    await setProviderStatus(mv(), registrar, s.accounts.clinic!.address, 'reinstate')
  })

  it('verifies cards from issuers outside medvault through a trusted JWKS or a VCI directory, and honours its CRL', async () => {
    const state = await generateIssuerKey()
    const iss = 'https://iis.state.example'
    const bundle = {
      resourceType: 'Bundle' as const,
      type: 'collection' as const,
      entry: [{ fullUrl: 'resource:0', resource: patient }],
    }
    const card = await issueHealthCard({ bundle, issuerUrl: iss, privateJwk: state.privateJwk, rid: 'r-001' })
    const untrusted = await verifyHealthCard(card.jws, { resolveIssuer: (i) => registryTrust(mv(), BASE).resolve(i) })
    assert.equal(untrusted.valid, false)

    const jwksFile = join(dir, 'jwks.json')
    writeFileSync(jwksFile, JSON.stringify(jwksOf([state.publicJwk])))
    const viaJwks = combineTrust([registryTrust(mv(), BASE), await jwksTrust(iss, jwksFile)])
    const verdict = await verifyHealthCard(card.jws, { resolveIssuer: (i) => viaJwks.resolve(i) })
    assert.equal(verdict.valid, true, JSON.stringify(verdict.checks))
    assert.match(verdict.issuer!.source, /trusted JWKS/)

    const directory = join(dir, 'vci.json')
    writeFileSync(
      directory,
      JSON.stringify({
        issuerInfo: [
          {
            issuer: { iss, name: 'State Immunization Registry' },
            keys: [{ ...state.publicJwk, crlVersion: 1 }],
            crls: [{ kid: state.publicJwk.kid, method: 'rid', ctr: 1, rids: ['r-001'] }],
          },
        ],
      }),
    )
    const viaDirectory = await vciDirectoryTrust(directory)
    const revoked = await verifyHealthCard(card.jws, {
      resolveIssuer: (i) => viaDirectory.resolve(i),
      isRevoked: revocationCheckerFromCrls(viaDirectory.crls!),
    })
    assert.equal(revoked.valid, false)
    assert.equal(revoked.checks.find((c) => c.id === 'revocation')?.ok, false)
    assert.equal(revoked.issuer?.name, 'State Immunization Registry')
  })

  it('serves issuer keys and revocation lists over HTTP, and a revoked rid fails verification', async () => {
    const crlDir = join(dir, 'crl')
    const server = await startWellKnownServer(mv(), { issuerBaseUrl: BASE, crlDir, port: 0 })
    try {
      const clinic = s.accounts.clinic!
      const card = await issueCardFromRecords(mv(), { provider: clinic, tokenIds: [vaccine], patient, issuerBaseUrl: BASE, rid: 'batch-7' })
      const trust = registryTrust(mv(), BASE, crlDir)
      const before = await verifyHealthCard(card.jws, { resolveIssuer: (i) => trust.resolve(i), isRevoked: trust.isRevoked! })
      assert.equal(before.valid, true, JSON.stringify(before.checks))

      const jwks = (await (await fetch(`${server.url}/${clinic.address}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }
      assert.ok(jwks.keys.some((k) => k.kid === card.kid))
      assert.equal((await fetch(`${server.url}/${s.accounts.alice!.address}/.well-known/jwks.json`)).status, 404, 'not an issuer')

      revokeRid(crlDir, clinic.address, card.kid, 'batch-7')
      const crl = (await (await fetch(`${server.url}/${clinic.address}/.well-known/crl/${card.kid}.json`)).json()) as { rids: string[] }
      assert.deepEqual(crl.rids, ['batch-7'])
      const after = await verifyHealthCard(card.jws, { resolveIssuer: (i) => trust.resolve(i), isRevoked: trust.isRevoked! })
      assert.equal(after.valid, false)
      assert.equal(after.checks.find((c) => c.id === 'revocation')?.ok, false)
    } finally {
      await server.close()
    }
  })

  it('a card from a provider whose key is not in the registry is not trusted', async () => {
    const imposter = await generateIssuerKey()
    const iss = `${BASE}/${s.accounts.other!.address}`
    const card = await issueHealthCard({
      bundle: { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'resource:0', resource: patient }] },
      issuerUrl: iss,
      privateJwk: imposter.privateJwk,
    })
    const verdict = await verifyHealthCard(card.jws, { resolveIssuer: (i) => registryTrust(mv(), BASE).resolve(i) })
    assert.equal(verdict.valid, false)
    assert.equal(verdict.checks.find((c) => c.id === 'signature')?.ok, false)
  })
})
