/** What the browser and verification tests share: Debian's chromium, and a health card to verify. */
import { readFileSync } from 'node:fs'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { Bundle, Immunization } from '@medplum/fhirtypes'
import { type Browser, chromium } from 'playwright-core'

/** Debian's chromium (installed by .ci/run), headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

const immunization = JSON.parse(readFileSync(new URL('../../examples/fhir/immunization.json', import.meta.url), 'utf8')) as Immunization

/** A health card's bundle: the patient and one immunization. */
export const cardBundle: Bundle = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    {
      fullUrl: 'resource:0',
      resource: { resourceType: 'Patient', name: [{ given: ['Alice'], family: 'Example' }], birthDate: '1990-04-01' },
    },
    { fullUrl: 'resource:1', resource: { ...immunization, patient: { reference: 'resource:0' } } },
  ],
}

/** The card with its vaccination date changed and the issuer's signature kept. */
export function tamperCard(jws: string): string {
  const [header, payload, signature] = jws.split('.') as [string, string, string]
  const claims = JSON.parse(inflateRawSync(Buffer.from(payload, 'base64url')).toString('utf8'))
  claims.vc.credentialSubject.fhirBundle.entry[1].resource.occurrenceDateTime = '2026-01-02'
  return [header, deflateRawSync(Buffer.from(JSON.stringify(claims))).toString('base64url'), signature].join('.')
}
