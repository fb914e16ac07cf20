/**
 * Acceptance: the access report. A scripted history on a real local chain (5 records, 3 grants,
 * 1 revocation, 2 denied attempts, 1 emergency access, and the reads that go with them) gives
 * exactly those counts in the JSON report, names each record, grant and access correctly, and the
 * PDF is a well-formed PDF whose text says the same; both through the library and through
 * `medvault report` (the built CLI).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { getAddress } from 'viem'
import { createGrant, openEmergency, revokeGrant, setEmergencyProvider } from '../../src/consent/grants.js'
import { releasePendingKeys } from '../../src/records/releaseKeys.js'
import { AccessDeniedError } from '../../src/errors.js'
import { readRecord } from '../../src/records/index.js'
import { type AccessReport, gatherAccessReport, renderAccessReportPdf } from '../../src/report/index.js'
import { medvault } from '../integration/cli.js'
import { issueExample, openTestStack, registrar, type TestStack } from '../integration/stack.js'
import { parsePdf, pdftotext } from './pdf.js'

describe('Access report', () => {
  let stack: TestStack
  let out: string
  const tokens: Record<string, bigint> = {}
  let report: AccessReport
  let pdf: Buffer
  const account = (name: string) => stack.accounts[name]!
  const address = (name: string) => getAddress(account(name).address)

  before(async () => {
    out = mkdtempSync(join(tmpdir(), 'medvault-report-out-'))
    stack = await openTestStack({
      providers: { lab: 'Lab A', clinic: 'Clinic B', er: 'City ER' },
      others: ['patient', 'cardio', 'insurer', 'stranger'],
    })
    const { mv } = stack
    // 5 records.
    tokens.glucose = await issueExample(stack, 'glucose.json', 'lab', 'patient')
    tokens.ekg = await issueExample(stack, 'ekg.json', 'clinic', 'patient')
    tokens.immunization = await issueExample(stack, 'immunization.json', 'clinic', 'patient')
    tokens.therapy = await issueExample(stack, 'therapy-note.json', 'clinic', 'patient')
    tokens.corrected = await issueExample(stack, 'glucose-corrected.json', 'lab', 'patient')

    // 3 grants: listed records, a category, and all (non-sensitive) records.
    const grant = async (
      grantee: string,
      terms: Parameters<typeof createGrant>[1]['terms'],
      purpose: 'treatment' | 'payment' | 'research',
    ) => {
      const { grantId } = await createGrant(mv, {
        grantor: account('patient'),
        patient: address('patient'),
        grantee: address(grantee),
        terms,
        expiresAt: new Date(Date.now() + 30 * 86_400_000),
        purpose,
      })
      await releasePendingKeys(mv, account('patient'), { grantId })
      return grantId
    }
    await grant('cardio', { scope: 'records', tokenIds: [tokens.ekg!] }, 'treatment')
    const insurerGrant = await grant('insurer', { scope: 'categories', categories: ['laboratory'] }, 'payment')
    await grant('cardio', { scope: 'all' }, 'research')

    // Reads: the patient's own, a grantee's, the insurer's before its grant is revoked ...
    await readRecord(mv, { tokenId: tokens.glucose!, reader: account('patient') })
    await readRecord(mv, { tokenId: tokens.ekg!, reader: account('cardio') })
    await readRecord(mv, { tokenId: tokens.glucose!, reader: account('insurer') })
    // ... 1 revocation, then 2 denied attempts: the insurer after it, and a stranger.
    await revokeGrant(mv, { grantor: account('patient').chainAccount, grantId: insurerGrant })
    await assert.rejects(readRecord(mv, { tokenId: tokens.glucose!, reader: account('insurer') }), AccessDeniedError)
    await assert.rejects(readRecord(mv, { tokenId: tokens.therapy!, reader: account('stranger') }), AccessDeniedError)
    // 1 emergency access: the ER opens a window and reads the immunization (its key released from the escrow).
    await setEmergencyProvider(mv, { registrar, provider: address('er'), allowed: true })
    await openEmergency(mv, { provider: account('er').chainAccount, patient: address('patient'), reason: 'unconscious on arrival' })
    await readRecord(mv, { tokenId: tokens.immunization!, reader: account('er') })

    report = await gatherAccessReport(mv, {
      patient: address('patient'),
      keys: account('patient'),
      auditLog: { dir: mv.paths.audit, node: mv.node.account.address },
      accountNames: new Map(mv.keystore.list().map((a) => [a.address, a.name] as const)),
    })
    pdf = await renderAccessReportPdf(report)
  })

  after(async () => {
    await stack?.dispose()
    rmSync(out, { recursive: true, force: true })
  })

  it('counts exactly 5 records, 3 grants, 1 revocation, 2 denied attempts and 1 emergency access', () => {
    assert.deepEqual(
      {
        records: report.summary.records,
        grants: report.summary.grants,
        revocations: report.summary.revocations,
        denied: report.summary.denied,
        emergencyAccesses: report.summary.emergencyAccesses,
      },
      { records: 5, grants: 3, revocations: 1, denied: 2, emergencyAccesses: 1 },
    )
    assert.equal(report.records.length, 5)
    assert.equal(report.grants.length, 3)
    assert.equal(report.emergencies.length, 1)
    assert.equal(report.accesses.filter((a) => a.outcome === 'denied').length, 2)
    // Allowed: the patient's read, the cardiologist's, the insurer's, and the ER's read with its escrow key release.
    assert.equal(report.summary.allowed, 5)
    assert.equal(report.summary.disclosures, 4, 'allowed accesses by someone other than the patient')
    assert.equal(report.source.auditLog.intact, true)
    assert.equal(report.patient.address, address('patient'))
  })

  it('names each record with its issuer, date and category', () => {
    const byToken = new Map(report.records.map((r) => [r.tokenId, r]))
    const row = (name: string) => byToken.get(tokens[name]!.toString())!
    assert.deepEqual(
      ['glucose', 'ekg', 'immunization', 'therapy', 'corrected'].map((name) => [row(name).issuer.name, row(name).issuer.provider]),
      [
        ['Lab A', true],
        ['Clinic B', true],
        ['Clinic B', true],
        ['Clinic B', true],
        ['Lab A', true],
      ],
    )
    assert.deepEqual(
      ['glucose', 'immunization', 'therapy'].map((name) => row(name).category),
      ['laboratory', 'immunization', 'mental-health'],
    )
    assert.deepEqual(byToken.get(tokens.therapy!.toString())!.sensitive, ['mentalHealth'])
    for (const r of report.records) assert.ok(!Number.isNaN(Date.parse(r.issuedAt)))
  })

  it("without the patient's keys, names no category: the chain holds only blinded tags", async () => {
    const blind = await gatherAccessReport(stack.mv, {
      patient: address('patient'),
      auditLog: { dir: stack.mv.paths.audit, node: stack.mv.node.account.address },
    })
    assert.ok(blind.records.every((r) => r.category === 'unknown' && r.sensitive.length === 0))
    const category = blind.grants.find((g) => g.scope === 'categories')
    assert.deepEqual(category?.categories, ['unknown'])
  })

  it('describes each grant: who, what, purpose, from when to when, revoked when and by whom', () => {
    const [records, category, all] = report.grants
    assert.deepEqual(
      [records!.grantee.name, records!.scope, records!.records, records!.purpose, records!.status],
      ['cardio', 'records', [tokens.ekg!.toString()], 'treatment', 'active'],
    )
    assert.deepEqual(
      [category!.grantee.name, category!.categories, category!.purpose, category!.status],
      ['insurer', ['laboratory'], 'payment', 'revoked'],
    )
    assert.ok(category!.revokedAt && Date.parse(category!.revokedAt) >= Date.parse(category!.from))
    assert.equal(category!.revokedBy?.address, address('patient'))
    assert.deepEqual([all!.scope, all!.sensitive, all!.purpose], ['all', [], 'research'])
    for (const g of report.grants) assert.ok(Date.parse(g.until) > Date.parse(g.from))
  })

  it('lists every access attempt with who, what and why; the emergency ones flagged', () => {
    const denied = report.accesses.filter((a) => a.outcome === 'denied')
    assert.deepEqual(
      denied.map((a) => [a.actor.name, a.tokenId, a.reason]),
      [
        ['insurer', tokens.glucose!.toString(), 'no-grant'],
        ['stranger', tokens.therapy!.toString(), 'no-grant'],
      ],
    )
    const er = report.accesses.filter((a) => a.actor.address === address('er'))
    assert.deepEqual(
      er.map((a) => [a.action, a.outcome, a.emergency]),
      [
        ['read', 'allowed', true],
        ['key-release', 'allowed', true],
      ],
    )
    assert.equal(report.emergencies[0]!.provider.name, 'City ER')
    assert.equal(report.emergencies[0]!.accesses, 2)
    assert.equal(report.emergencies[0]!.open, true)
    assert.ok(report.accesses.some((a) => a.self && a.actor.address === address('patient')))
  })

  it('renders a well-formed PDF with the title, the patient, the sections and the counts', (t) => {
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-')
    const structure = parsePdf(pdf)
    assert.ok(structure.pages >= 1)
    const poppler = pdftotext(pdf)
    t.diagnostic(
      `PDF ${pdf.length} bytes, ${structure.pages} page(s), ${structure.objects} objects; pdftotext ${poppler === undefined ? 'not installed: own parser only' : 'installed'}`,
    )
    for (const text of [structure.text, ...(poppler === undefined ? [] : [poppler])]) {
      for (const expected of [
        'medvault access report',
        address('patient'),
        'Summary',
        'Records (5)',
        'Grants (3)',
        'Emergency access (1)',
        `Access log (${report.accesses.length})`,
        'Lab A',
        'City ER',
        'DENIED',
        'payment',
        report.generatedAt.slice(0, 10),
      ]) {
        assert.ok(text.includes(expected), `the PDF text lacks "${expected}"`)
      }
    }
  })

  it('medvault report writes the same counts as JSON, and a PDF', async () => {
    await stack.mv.close() // the CLI opens the home itself
    const json = join(out, 'report.json')
    const cli = await medvault(stack.home, ['report', '--as', 'patient', '--out', json, '--json'])
    assert.equal(cli.code, 0, cli.stderr)
    assert.deepEqual(cli.json.summary, report.summary)
    const written = JSON.parse(readFileSync(json, 'utf8')) as AccessReport
    assert.deepEqual(written.summary, report.summary)
    assert.equal(written.records.length, 5)

    const pdfFile = join(out, 'report.pdf')
    const human = await medvault(stack.home, ['report', '--as', 'patient', '--out', pdfFile])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /2 denied/)
    assert.ok(parsePdf(readFileSync(pdfFile)).text.includes('Emergency access (1)'))

    const bad = await medvault(stack.home, ['report', '--as', 'patient', '--out', join(out, 'report.txt')])
    assert.equal(bad.code, 2)
    await stack.restart()
  })
})
