import type { AccessReport, ReportParty } from './accessReport.js'

const MARGIN = 50
const BODY = 9
const SMALL = 7.5
const GREY = '#555555'
const RULE = '#bbbbbb'
const HEADER_FILL = '#e8edf3'
const ALERT = '#a4161a'

/** "Lab A (0x1a2b…9f0e)", or "you" for the patient. */
function who(party: ReportParty, patient: string): string {
  if (party.address === patient) return 'you (the patient)'
  const short = `${party.address.slice(0, 6)}…${party.address.slice(-4)}`
  return party.name ? `${party.name} (${short})` : party.address
}

/** "2026-03-01 14:05 UTC" */
function when(iso: string | undefined): string {
  if (!iso) return ''
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
}

/**
 * Renders an access report as a PDF for people: a title page header with the patient's address
 * and the time it was generated, a summary, then one section per kind (records, grants, emergency
 * access, access log) as tables, with page numbers. Returns the PDF bytes.
 *
 * @example
 * await writeFile('report.pdf', await renderAccessReportPdf(await gatherAccessReport(mv, params)))
 */
export async function renderAccessReportPdf(report: AccessReport): Promise<Buffer> {
  // Loaded here: pdfkit and its fonts take ~150 ms to load, which the server's start and every CLI
  // command that imports the server paid although few ever render a PDF.
  const { default: PDFDocument } = await import('pdfkit')
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    bufferPages: true,
    info: {
      Title: `${report.title} for ${report.patient.address}`,
      Author: 'medvault',
      Subject: 'Accounting of disclosures (HIPAA 45 CFR 164.528) and right of access (GDPR art. 15)',
      CreationDate: new Date(report.generatedAt),
    },
  })
  const chunks: Buffer[] = []
  doc.on('data', (chunk: Buffer) => chunks.push(chunk))
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)))
    doc.on('error', reject)
  })
  const patient = report.patient.address
  const width = doc.page.width - 2 * MARGIN

  // ------------------------------------------------------------------ title
  doc.font('Helvetica-Bold').fontSize(20).text('medvault access report')
  doc.moveDown(0.2)
  doc.font('Helvetica').fontSize(10).fillColor(GREY)
  doc.text('Accounting of disclosures (HIPAA 45 CFR 164.528) and right of access (GDPR art. 15)')
  doc.fillColor('black').moveDown(0.8)
  keyValues(doc, [
    ['Patient', `${report.patient.address}${report.patient.name ? ` (${report.patient.name})` : ''}`],
    ['Generated', when(report.generatedAt)],
    ['Chain', `chain id ${report.source.chainId}, read at block ${report.source.block}`],
    ['Contracts', `records ${report.source.records}, consent ${report.source.consent}`],
    [
      'Access log',
      `node ${report.source.auditLog.node}, ${report.source.auditLog.entries} entries, ` +
        (report.source.auditLog.intact
          ? `intact (hash chain and signatures check out${report.source.auditLog.anchoredThrough !== undefined ? `; anchored on chain through entry ${report.source.auditLog.anchoredThrough}` : ''})`
          : `NOT INTACT: ${report.source.auditLog.problems} problem(s); run \`medvault audit --verify\``),
    ],
  ])

  // ------------------------------------------------------------------ summary
  section(doc, 'Summary')
  const s = report.summary
  table(
    doc,
    width,
    [3, 1],
    ['', 'count'],
    [
      ['Records', String(s.records)],
      ['Records erased at your request', String(s.erasedRecords)],
      ['Grants you (or a delegate) made', String(s.grants)],
      ['Grants active now', String(s.activeGrants)],
      ['Grants revoked', String(s.revocations)],
      ['Access attempts logged (yours included)', String(s.accesses)],
      ['  allowed', String(s.allowed)],
      ['  denied', String(s.denied)],
      ['Disclosures to others (allowed accesses by someone else)', String(s.disclosures)],
      ['Emergency (break-glass) accesses', String(s.emergencyAccesses)],
    ],
  )

  // ------------------------------------------------------------------ records
  listSection(doc, width, 'Records', report.records, {
    weights: [0.5, 1.4, 2.2, 1.4, 2.2],
    header: ['#', 'category', 'issued by', 'issued', 'status'],
    row: (r) => [
      r.tokenId,
      `${r.category}${r.sensitive.length ? ` (sensitive: ${r.sensitive.join(', ')})` : ''}`,
      who(r.issuer, patient),
      when(r.issuedAt),
      [
        r.erasedAt ? `erased ${when(r.erasedAt)}` : r.amendedBy ? `amended by #${r.amendedBy}` : 'current',
        r.amends ? `corrects #${r.amends}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    ],
  })

  // ------------------------------------------------------------------ grants
  listSection(doc, width, 'Grants', report.grants, {
    weights: [0.4, 1.8, 1.9, 0.9, 1.3, 1.3, 1.5],
    header: ['#', 'who may read', 'what', 'purpose', 'from', 'until', 'revoked'],
    row: (g) => [
      g.grantId,
      `${who(g.grantee, patient)}${g.grantedBy.address !== patient ? `\ngranted by delegate ${who(g.grantedBy, patient)}` : ''}`,
      (g.scope === 'records'
        ? `records ${(g.records ?? []).map((t) => `#${t}`).join(', ')}`
        : g.scope === 'all'
          ? 'all records'
          : (g.categories ?? []).join(', ')) +
        (g.scope === 'records' ? '' : g.sensitive.length ? ` (including ${g.sensitive.join(', ')})` : ' (no sensitive records)'),
      g.purpose,
      when(g.from),
      when(g.until),
      g.revokedAt
        ? `${when(g.revokedAt)}${g.revokedBy && g.revokedBy.address !== patient ? ` by ${who(g.revokedBy, patient)}` : ''}`
        : g.status,
    ],
  })

  // ------------------------------------------------------------------ emergencies
  listSection(doc, width, 'Emergency access', report.emergencies, {
    alert: true,
    note: 'A flagged emergency provider may read your non-sensitive records for 24 hours without asking you. Each window is on chain.',
    weights: [2.4, 1.5, 1.5, 0.9, 1.3],
    header: ['provider', 'opened', 'until', 'reads', 'reason (hash)'],
    row: (e) => [
      who(e.provider, patient),
      when(e.openedAt),
      `${when(e.until)}${e.open ? ' (open)' : ''}`,
      String(e.accesses),
      `${e.reasonHash.slice(0, 10)}…`,
    ],
  })

  // ------------------------------------------------------------------ access log
  listSection(doc, width, 'Access log', report.accesses, {
    note: 'Every attempt this medvault node logged to reach your records, allowed or denied, from its signed, hash-chained access log. Other nodes keep their own logs.',
    weights: [1.75, 2.6, 0.9, 0.6, 0.8, 1.2],
    header: ['when', 'who', 'action', 'record', 'outcome', 'why'],
    row: (a) => [
      when(a.at),
      who(a.actor, patient),
      a.action,
      a.tokenId ? `#${a.tokenId}` : '',
      a.outcome === 'denied' ? 'DENIED' : 'allowed',
      [a.reason ?? '', a.purpose ?? '', a.emergency ? 'EMERGENCY' : ''].filter(Boolean).join(', '),
    ],
  })

  // ------------------------------------------------------------------ page footers
  const range = doc.bufferedPageRange()
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i)
    const bottom = doc.page.margins.bottom
    doc.page.margins.bottom = 0
    doc
      .font('Helvetica')
      .fontSize(SMALL)
      .fillColor(GREY)
      .text(
        `medvault access report, ${report.patient.address}, generated ${when(report.generatedAt)}. Page ${i + 1} of ${range.count}.`,
        MARGIN,
        doc.page.height - 35,
        {
          width,
          align: 'center',
          lineBreak: false,
        },
      )
    doc.page.margins.bottom = bottom
  }
  doc.fillColor('black')
  doc.end()
  return done
}

function section(doc: PDFKit.PDFDocument, title: string, color = 'black'): void {
  doc.moveDown(1)
  if (doc.y > doc.page.height - MARGIN - 80) doc.addPage()
  doc.x = MARGIN
  doc.font('Helvetica-Bold').fontSize(13).fillColor(color).text(title)
  doc.fillColor('black').moveDown(0.3)
}

function none(doc: PDFKit.PDFDocument): void {
  doc.font('Helvetica').fontSize(BODY).fillColor(GREY).text('None.').fillColor('black')
}

/**
 * A section listing `items` (its title counts them): "None." when there are none, else an optional
 * note and a table of one row an item. `alert` colours the title when there are any.
 */
function listSection<T>(
  doc: PDFKit.PDFDocument,
  width: number,
  title: string,
  items: readonly T[],
  list: { weights: number[]; header: string[]; row: (item: T) => string[]; note?: string; alert?: boolean },
): void {
  section(doc, `${title} (${items.length})`, list.alert && items.length > 0 ? ALERT : undefined)
  if (items.length === 0) {
    none(doc)
    return
  }
  if (list.note) {
    doc.font('Helvetica').fontSize(BODY).fillColor(GREY)
    doc.text(list.note, { width })
    doc.fillColor('black').moveDown(0.3)
  }
  table(doc, width, list.weights, list.header, items.map(list.row))
}

function keyValues(doc: PDFKit.PDFDocument, rows: [string, string][]): void {
  for (const [key, value] of rows) {
    const y = doc.y
    doc.font('Helvetica-Bold').fontSize(BODY).text(key, MARGIN, y, { width: 80 })
    const afterKey = doc.y
    doc
      .font('Helvetica')
      .fontSize(BODY)
      .text(value, MARGIN + 85, y, { width: doc.page.width - 2 * MARGIN - 85 })
    doc.y = Math.max(doc.y, afterKey) + 2
  }
  doc.x = MARGIN
}

/** A table with a shaded header row; `weights` share the width among the columns. */
function table(doc: PDFKit.PDFDocument, width: number, weights: number[], header: string[], rows: string[][]): void {
  const total = weights.reduce((a, b) => a + b, 0)
  doc.x = MARGIN
  doc.font('Helvetica').fontSize(BODY).fillColor('black')
  doc.table({
    position: { x: MARGIN },
    maxWidth: width,
    columnStyles: weights.map((w) => ({ width: (width * w) / total })),
    defaultStyle: { border: 0.5, borderColor: RULE, padding: 3 },
    data: [
      header.map((text) => ({ text, font: { src: 'Helvetica-Bold' }, backgroundColor: HEADER_FILL, type: 'TH' as const })),
      ...rows.map((row) => row.map((text) => (text === 'DENIED' || text === 'EMERGENCY' ? { text, textColor: ALERT } : text))),
    ],
  })
  doc.x = MARGIN
}
