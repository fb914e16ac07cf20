/** What the browser and verification tests share: the browser, and a health card to verify. */
import { readFileSync } from 'node:fs'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { Bundle, Immunization } from '@medplum/fhirtypes'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'

/** Headless Chromium: the system one, or the one shipped by npm (see browser.ts). */
export { launchBrowser as launchChromium } from './browser.js'

/** Basic accessibility checks in the page: every control labelled, every button named, images described, landmarks present. */
export async function checkAccessible(page: Page): Promise<void> {
  const problems = await page.evaluate(() => {
    const document = (globalThis as any).document // the browser's
    const out: string[] = []
    if (!document.documentElement.lang) out.push('html has no lang')
    if (!document.querySelector('main')) out.push('no main landmark')
    if (!document.querySelector('h1')) out.push('no h1')
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const input = el
      if (input.type === 'hidden') continue
      const labelled = (input.labels?.length ?? 0) > 0 || input.getAttribute('aria-label') || input.getAttribute('aria-labelledby')
      if (!labelled) out.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`)
    }
    for (const b of document.querySelectorAll('button, a[href]')) {
      if (!(b.textContent ?? '').trim() && !b.getAttribute('aria-label')) out.push(`unnamed ${b.tagName.toLowerCase()}`)
    }
    for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) out.push('img without alt')
    return out
  })
  assert.deepEqual(problems, [])
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

/** Words that only plaintext health data or key material would put in the browser's storage. */
const PLAINTEXT_MARKS = ['Glucose', 'mg/dL', 'Hemoglobin', 'Immunization', 'privateKey', 'encryptionSeed', 'Bearer']
/**
 * A compact JWS or JWT (a session token): `eyJ…` header, a dot, payload, a dot. Its shape, not the
 * three letters alone: sealed values are base64, and a few KiB of random base64 hold "eyJ" by chance
 * (one chance in 262,144 per position), which once failed CI on a cache that held no token.
 */
const TOKEN = /eyJ[\w-]+\.[\w-]+\.[\w-]*/

/** What in a dump of localStorage looks like plaintext health data, keys or a session token. */
export function storedSecrets(stored: string): string[] {
  const found = PLAINTEXT_MARKS.filter((mark) => stored.includes(mark))
  const token = TOKEN.exec(stored)
  if (token) found.push(`a token (${token[0].slice(0, 12)}…)`)
  return found
}
