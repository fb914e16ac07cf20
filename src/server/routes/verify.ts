/**
 * Verification for anyone (an insurer, a border agent, a school), without an account:
 *
 * - `POST /verify/health-card`: a SMART Health Card as its JWS, its `shc:/` QR text (or the texts
 *   of a chunked card) or a `.smart-health-card` file, checked against the medvault provider
 *   registry on chain (issuer, registry status, signature, revocation, dates) and summarised.
 * - `POST /verify/claim`: a proof-of-treatment presentation (src/claims), checked for the
 *   verifier it names (or the signed-in account), against the chain.
 *
 * Both answer a verdict with its reasons in plain words. They sit outside /api, so the session
 * middleware lets them through; the rate limit (per client address) applies as everywhere, and
 * the body is capped lower than the server's default, since nobody has to sign in to send one.
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Bundle, Resource } from '@medplum/fhirtypes'
import { type Hex, getAddress } from 'viem'
import { type ClaimPresentation, verifyClaim } from '../../claims/index.js'
import { getProvider } from '../../directory/index.js'
import { type Check, type Verdict, registryTrust, verifyHealthCard, verifyHealthCards } from '../../shc/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { jsonResponse } from '../http.js'
import { addressSchema, errorResponses, jsonBody, jsonOk } from './schemas.js'

/** Largest body these open endpoints take: a card or a presentation is a few kilobytes. */
export const VERIFY_BODY_BYTES = 256 * 1024

const jws = z.string().min(1).max(200_000)
const healthCardBody = z
  .object({
    card: z.union([jws, z.array(jws).min(1).max(20), z.object({ verifiableCredential: z.array(jws).min(1).max(20) })]).openapi({
      description: 'The JWS, the shc:/ QR text, the QR texts of a chunked card, or a .smart-health-card file (as text or JSON)',
    }),
  })
  .openapi('HealthCardVerificationRequest')

const hex = (bytes?: number) => z.string().regex(bytes ? new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`) : /^0x[0-9a-fA-F]*$/)
const presentationSchema = z.object({
  v: z.literal(1),
  chainId: z.number().int(),
  records: addressSchema,
  audience: addressSchema,
  nonce: hex(32),
  createdAt: z.string().max(64),
  items: z
    .array(
      z.object({
        tokenId: z.string().regex(/^[1-9]\d{0,30}$/),
        disclosures: z
          .array(
            z.object({
              path: z.string().max(1000),
              value: z.union([z.string().max(100_000), z.number(), z.boolean(), z.null()]),
              salt: hex(16),
            }),
          )
          .max(500),
        digests: z.array(hex(32)).max(10_000),
        fieldsSignature: hex().max(1000),
      }),
    )
    .min(1)
    .max(20),
  signature: hex().max(1000),
})
const claimBody = z
  .object({
    presentation: presentationSchema,
    nonce: hex(32).optional().openapi({ description: 'The nonce the verifier asked the patient to use, when it asked for one' }),
  })
  .openapi('ClaimVerificationRequest')

/** Issuers are trusted per the on-chain registry, with the revocation lists this node keeps. */
function cardTrust(deps: ServerDeps) {
  return registryTrust(deps.ctx, deps.healthCards.issuerBaseUrl, deps.healthCards.crlDir)
}

const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10)

/** One check of verify.ts, said for a person. The technical message stays as `detail`. */
function plainCheck(check: Check, verdict: Verdict): { id: string; ok: boolean; message: string; detail: string } {
  const issuer = verdict.issuer?.name ?? 'the issuer'
  const iss = verdict.payload?.iss
  const words: Record<string, [ok: string, bad: string]> = {
    format: ['It is a SMART Health Card.', 'This is not a readable SMART Health Card.'],
    size: ['Its size is within the limits of a health card.', 'It is larger than a health card may be.'],
    issuer: [
      `Issued by ${issuer}, an active provider in the medvault registry.`,
      `The issuer${iss ? ` (${iss})` : ''} is not a provider this service trusts, or is no longer active: anyone could have made this card.`,
    ],
    signature: [
      `${issuer}'s digital signature is valid: nothing on the card was changed after it was issued.`,
      'The digital signature does not match: the card was changed after it was issued, or was not made by this issuer.',
    ],
    nbf: [
      `Issued on ${verdict.payload ? day(verdict.payload.nbf) : 'a past date'}.`,
      'It claims to be issued in the future: do not accept it.',
    ],
    exp: [
      `Valid until ${verdict.payload?.exp ? day(verdict.payload.exp) : 'its expiry date'}.`,
      `It expired on ${verdict.payload?.exp ? day(verdict.payload.exp) : 'its expiry date'}.`,
    ],
    revocation: ['The issuer has not withdrawn it.', 'The issuer has withdrawn (revoked) this card.'],
    fhir: ['It holds health information in the standard format (FHIR).', 'Its health information is not in the standard format.'],
  }
  const [ok, bad] = words[check.id] ?? [check.message, check.message]
  return { id: check.id, ok: check.ok, message: check.ok ? ok : bad, detail: check.message }
}

/** Common vaccines by CVX code (https://www2.cdc.gov/vaccines/iis/iisstandards/vaccines.asp): cards drop display texts. */
const CVX: Record<string, string> = {
  '207': 'COVID-19 vaccine (Moderna)',
  '208': 'COVID-19 vaccine (Pfizer-BioNTech)',
  '210': 'COVID-19 vaccine (AstraZeneca)',
  '211': 'COVID-19 vaccine (Novavax)',
  '212': 'COVID-19 vaccine (Janssen)',
  '213': 'COVID-19 vaccine',
  '217': 'COVID-19 vaccine (Pfizer-BioNTech)',
  '218': 'COVID-19 vaccine (Pfizer-BioNTech)',
  '219': 'COVID-19 vaccine (Pfizer-BioNTech)',
  '221': 'COVID-19 vaccine (Moderna)',
  '229': 'COVID-19 vaccine (Moderna, bivalent)',
  '300': 'COVID-19 vaccine (Pfizer-BioNTech, bivalent)',
  '88': 'Influenza vaccine',
  '140': 'Influenza vaccine',
  '141': 'Influenza vaccine',
  '150': 'Influenza vaccine',
  '03': 'Measles, mumps and rubella (MMR) vaccine',
  '94': 'Measles, mumps, rubella and varicella (MMRV) vaccine',
  '21': 'Varicella (chickenpox) vaccine',
  '08': 'Hepatitis B vaccine',
  '43': 'Hepatitis B vaccine',
  '83': 'Hepatitis A vaccine',
  '20': 'Diphtheria, tetanus and pertussis (DTaP) vaccine',
  '115': 'Tetanus, diphtheria and pertussis (Tdap) vaccine',
  '10': 'Polio vaccine (IPV)',
  '62': 'HPV vaccine',
  '165': 'HPV vaccine',
  '187': 'Shingles vaccine (Shingrix)',
  '33': 'Pneumococcal vaccine',
  '152': 'Pneumococcal vaccine',
  '37': 'Yellow fever vaccine',
  '25': 'Typhoid vaccine',
}
const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx'

type CodeableConcept = { text?: string; coding?: { system?: string; code?: string; display?: string }[] }
function conceptText(c: CodeableConcept | undefined): string | undefined {
  const cvx = c?.coding?.find((x) => x.system === CVX_SYSTEM && x.code && CVX[x.code])
  const first = c?.coding?.[0]
  return (
    c?.text ??
    c?.coding?.find((x) => x.display)?.display ??
    (cvx?.code ? CVX[cvx.code] : undefined) ??
    (first?.code ? `code ${first.code}${first.system ? ` (${first.system})` : ''}` : undefined)
  )
}

/** What the card says, for a person: who it is about, and each vaccination or result with its date. */
function contentsOf(bundle: Bundle | undefined) {
  let person: { name?: string; birthDate?: string } | undefined
  const facts: { kind: 'immunization' | 'result' | 'other'; what: string; date?: string; detail?: string }[] = []
  for (const entry of bundle?.entry ?? []) {
    const r = entry.resource as (Resource & Record<string, unknown>) | undefined
    if (!r) continue
    if (r.resourceType === 'Patient') {
      const n = (r.name as { text?: string; given?: string[]; family?: string }[] | undefined)?.[0]
      const name = n?.text ?? [...(n?.given ?? []), n?.family].filter(Boolean).join(' ')
      person = { ...(name ? { name } : {}), ...(typeof r.birthDate === 'string' ? { birthDate: r.birthDate } : {}) }
    } else if (r.resourceType === 'Immunization') {
      const lot = typeof r.lotNumber === 'string' ? `batch ${r.lotNumber}` : undefined
      const by = (r.performer as { actor?: { display?: string } }[] | undefined)?.[0]?.actor?.display
      facts.push({
        kind: 'immunization',
        what: conceptText(r.vaccineCode as CodeableConcept) ?? 'A vaccination',
        ...(typeof r.occurrenceDateTime === 'string' ? { date: r.occurrenceDateTime.slice(0, 10) } : {}),
        ...(lot || by ? { detail: [by && `given by ${by}`, lot].filter(Boolean).join(', ') } : {}),
      })
    } else if (r.resourceType === 'Observation') {
      const q = r.valueQuantity as { value?: number; unit?: string } | undefined
      const value =
        q?.value !== undefined ? `${q.value}${q.unit ? ` ${q.unit}` : ''}` : conceptText(r.valueCodeableConcept as CodeableConcept)
      facts.push({
        kind: 'result',
        what: conceptText(r.code as CodeableConcept) ?? 'A test result',
        ...(typeof r.effectiveDateTime === 'string' ? { date: r.effectiveDateTime.slice(0, 10) } : {}),
        ...(value ? { detail: `result: ${value}` } : {}),
      })
    } else {
      facts.push({ kind: 'other', what: r.resourceType })
    }
  }
  return { person, facts }
}

function cardAnswer(verdict: Verdict) {
  const checks = verdict.checks.map((c) => plainCheck(c, verdict))
  const failed = checks.filter((c) => !c.ok)
  return {
    valid: verdict.valid,
    summary: verdict.valid ? `Valid: issued by ${verdict.issuer?.name}, unchanged and not withdrawn.` : `Not valid: ${failed[0]?.message}`,
    issuer: verdict.issuer ? { name: verdict.issuer.name, url: verdict.issuer.iss, trustedThrough: verdict.issuer.source } : null,
    issuedAt: verdict.payload ? new Date(verdict.payload.nbf * 1000).toISOString() : null,
    expiresAt: verdict.payload?.exp ? new Date(verdict.payload.exp * 1000).toISOString() : null,
    types: verdict.payload?.vc.type ?? [],
    checks,
    // What the card says, only when it checked out: a forged card's claims are not facts.
    contents: verdict.valid ? contentsOf(verdict.payload?.vc.credentialSubject.fhirBundle) : null,
  }
}

const CLAIM_WORDS: Record<string, [ok: string, bad: string]> = {
  chain: ['It is about records on this medvault network.', 'It is about records on another network or contract.'],
  nonce: ['It answers the request you made (the nonce matches).', 'It was made for another request (the nonce differs).'],
  replay: ['It has not been used before.', 'It was used before.'],
}

function claimCheckWords(check: { id: string; ok: boolean; message: string }, audience: string): string {
  const [kind, tokenId] = check.id.split(/-(?=\d+$)/) as [string, string | undefined]
  if (kind === 'audience')
    return check.ok ? `It is addressed to ${audience}: only they should accept it.` : `It is addressed to someone else (${audience}).`
  const fixed = CLAIM_WORDS[kind]
  if (fixed) return check.ok ? fixed[0] : fixed[1]
  const per: Record<string, [string, string]> = {
    record: [`Record ${tokenId} exists.`, `Record ${tokenId} does not exist.`],
    owner: [`Signed by the patient who owns record ${tokenId}.`, `Not signed by the patient who owns record ${tokenId}.`],
    issuer: [
      `The disclosed facts of record ${tokenId} were committed to and signed by its issuer.`,
      `The issuer's signature over record ${tokenId}'s facts does not check out.`,
    ],
    registry: [
      `Record ${tokenId}'s issuer was an active registered provider when it issued it.`,
      `Record ${tokenId}'s issuer was not an active registered provider when it issued it.`,
    ],
    fields: [
      `Every disclosed fact of record ${tokenId} is exactly as its issuer recorded it.`,
      `A disclosed fact of record ${tokenId} was changed after it was issued.`,
    ],
  }
  const pair = per[kind]
  return pair ? (check.ok ? pair[0] : pair[1]) : check.message
}

export function verifyRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/verify/health-card',
      summary: 'Verify a SMART Health Card (no sign-in): issuer in the registry, signature, revocation, dates, and what it says',
      tags: ['verify'],
      request: jsonBody(healthCardBody),
      responses: { ...jsonOk('{ valid, summary, cards: [{ valid, summary, issuer, checks, contents }] }'), ...errorResponses },
    }),
    async (c) => {
      const { card } = c.req.valid('json')
      const trust = cardTrust(deps)
      const options = { resolveIssuer: (iss: string) => trust.resolve(iss), ...(trust.isRevoked ? { isRevoked: trust.isRevoked } : {}) }
      const verdicts =
        typeof card === 'string'
          ? await verifyHealthCards(card, options)
          : Array.isArray(card)
            ? // The QR texts of one card (a chunked card, scanned in any order).
              [await verifyHealthCard(card.length === 1 ? card[0]! : card, options)]
            : await verifyHealthCards(JSON.stringify(card), options)
      const cards = verdicts.map(cardAnswer)
      const valid = cards.length > 0 && cards.every((x) => x.valid)
      return jsonResponse(c, {
        valid,
        summary:
          cards.length === 1
            ? cards[0]!.summary
            : valid
              ? `All ${cards.length} cards are valid.`
              : `${cards.filter((x) => !x.valid).length} of ${cards.length} cards are not valid.`,
        cards,
      })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/verify/claim',
      summary: 'Verify a proof-of-treatment presentation (no sign-in): patient, issuer, registry, each disclosed fact',
      tags: ['verify'],
      request: jsonBody(claimBody),
      responses: { ...jsonOk('{ valid, summary, verifier, checks, disclosed }'), ...errorResponses },
    }),
    async (c) => {
      const { presentation, nonce } = c.req.valid('json')
      const session = c.get('session')
      const audience = getAddress(presentation.audience)
      // Signed in: verified for the caller. Otherwise for the verifier the presentation names, and not
      // written to the patient's access log (nobody proved to be that verifier).
      const verifier = session?.address ?? audience
      const { audit: _audit, ...anonymous } = deps.ctx
      const ctx = session?.address === audience ? deps.ctx : anonymous
      const verdict = await verifyClaim(ctx, {
        presentation: presentation as ClaimPresentation,
        verifier,
        ...(nonce ? { expectedNonce: nonce as Hex } : {}),
      })
      // A registered verifier by its name, anyone else by address.
      const audienceName = (await getProvider(deps.ctx, audience)).name || audience
      const checks = verdict.checks.map((x) => ({ ...x, message: claimCheckWords(x, audienceName), detail: x.message }))
      const failed = checks.find((x) => !x.ok)
      return jsonResponse(c, {
        valid: verdict.valid,
        summary: verdict.valid
          ? `Valid: the patient disclosed ${verdict.disclosed.reduce((n, d) => n + Object.keys(d.fields).length, 0)} fact(s), each exactly as the issuer recorded it.`
          : `Not valid: ${failed?.message}`,
        verifier,
        audience,
        checks,
        disclosed: verdict.disclosed,
      })
    },
  )
}
