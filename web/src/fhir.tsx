/**
 * FHIR R4 resources rendered for a person: what was measured, the value with its unit, the normal
 * range and whether it is high or low; which vaccine and when; the text of a note.
 */
import { clinicalDate, clinicalTitle, conceptText } from './lib/clinical.js'
import type { DiagnosticReport, DocumentReference, Immunization, Observation, Quantity, Resource } from '@medplum/fhirtypes'

const quantity = (q: Quantity | undefined) => (q?.value === undefined ? '' : `${q.value}${q.unit ? ` ${q.unit}` : ''}`)

const FLAGS: Record<string, { label: string; tone: 'high' | 'low' | 'bad' | 'ok' }> = {
  H: { label: 'High', tone: 'high' },
  HH: { label: 'Critically high', tone: 'bad' },
  L: { label: 'Low', tone: 'low' },
  LL: { label: 'Critically low', tone: 'bad' },
  A: { label: 'Abnormal', tone: 'bad' },
  N: { label: 'Normal', tone: 'ok' },
}

function flagOf(o: Observation): { label: string; tone: string } | undefined {
  const code = o.interpretation?.[0]?.coding?.[0]?.code
  if (code && FLAGS[code]) return FLAGS[code]
  const v = o.valueQuantity?.value
  const range = o.referenceRange?.[0]
  if (v === undefined || !range) return undefined
  if (range.high?.value !== undefined && v > range.high.value) return FLAGS.H
  if (range.low?.value !== undefined && v < range.low.value) return FLAGS.L
  return FLAGS.N
}

function rangeText(o: Observation): string {
  const r = o.referenceRange?.[0]
  if (!r) return '—'
  if (r.text) return r.text
  const low = r.low?.value
  const high = r.high?.value
  const unit = r.high?.unit ?? r.low?.unit ?? ''
  if (low !== undefined && high !== undefined) return `${low}–${high} ${unit}`.trim()
  if (high !== undefined) return `below ${high} ${unit}`.trim()
  if (low !== undefined) return `above ${low} ${unit}`.trim()
  return '—'
}

function valueText(o: Observation): string {
  if (o.valueQuantity) return quantity(o.valueQuantity)
  if (o.valueString) return o.valueString
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept) ?? ''
  if (o.valueBoolean !== undefined) return o.valueBoolean ? 'Yes' : 'No'
  return ''
}

function ObservationView({ o }: { o: Observation }) {
  const rows = o.component?.length
    ? o.component.map(
        (c) =>
          ({
            ...o,
            code: c.code,
            valueQuantity: c.valueQuantity,
            referenceRange: c.referenceRange,
            interpretation: c.interpretation,
          }) as Observation,
      )
    : [o]
  const when = o.effectiveDateTime ?? o.issued
  return (
    <>
      <table className="results">
        <caption className="visually-hidden">Results</caption>
        <thead>
          <tr>
            <th scope="col">Test</th>
            <th scope="col">Result</th>
            <th scope="col">Normal range</th>
            <th scope="col">Flag</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => {
            const flag = flagOf(row)
            return (
              <tr key={`${conceptText(row.code)}-${valueText(row)}-${i.toString()}`}>
                <th scope="row">{conceptText(row.code) ?? 'Result'}</th>
                <td className="value">{valueText(row)}</td>
                <td>{rangeText(row)}</td>
                <td>{flag ? <span className={`flag flag-${flag.tone}`}>{flag.label}</span> : '—'}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
      <dl className="facts">
        {when && (
          <>
            <dt>Sample taken</dt>
            <dd>{new Date(when).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}</dd>
          </>
        )}
        <dt>Status</dt>
        <dd>{o.status}</dd>
        {o.note?.map((n, i) => (
          <div key={`note-${n.text ?? ''}-${i.toString()}`}>
            <dt>Note</dt>
            <dd>{n.text}</dd>
          </div>
        ))}
      </dl>
    </>
  )
}

function ImmunizationView({ i }: { i: Immunization }) {
  return (
    <dl className="facts">
      <dt>Vaccine</dt>
      <dd>{conceptText(i.vaccineCode)}</dd>
      <dt>Given on</dt>
      <dd>
        {i.occurrenceDateTime ? new Date(i.occurrenceDateTime).toLocaleDateString('en-GB', { dateStyle: 'long' }) : i.occurrenceString}
      </dd>
      {i.lotNumber && (
        <>
          <dt>Batch</dt>
          <dd>{i.lotNumber}</dd>
        </>
      )}
      {i.performer?.[0]?.actor?.display && (
        <>
          <dt>Given by</dt>
          <dd>{i.performer[0].actor.display}</dd>
        </>
      )}
      {i.protocolApplied?.[0]?.doseNumberPositiveInt && (
        <>
          <dt>Dose</dt>
          <dd>{i.protocolApplied[0].doseNumberPositiveInt}</dd>
        </>
      )}
      <dt>Status</dt>
      <dd>{i.status}</dd>
    </dl>
  )
}

function decodeBase64Text(data: string): string {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0))
  return new TextDecoder().decode(bytes)
}

function DocumentView({ d }: { d: DocumentReference }) {
  return (
    <>
      <dl className="facts">
        <dt>Kind of note</dt>
        <dd>{conceptText(d.type) ?? 'Note'}</dd>
        {d.date && (
          <>
            <dt>Written</dt>
            <dd>{new Date(d.date).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}</dd>
          </>
        )}
      </dl>
      {d.content?.map((c, i) =>
        c.attachment?.data && (c.attachment.contentType ?? 'text/plain').startsWith('text/') ? (
          <blockquote key={`text-${i.toString()}`} className="note">
            {decodeBase64Text(c.attachment.data)}
          </blockquote>
        ) : (
          <p key={`file-${i.toString()}`}>{c.attachment?.title ?? 'An attached document.'}</p>
        ),
      )}
    </>
  )
}

function ReportView({ r }: { r: DiagnosticReport }) {
  return (
    <dl className="facts">
      <dt>Report</dt>
      <dd>{conceptText(r.code)}</dd>
      {r.conclusion && (
        <>
          <dt>Conclusion</dt>
          <dd>{r.conclusion}</dd>
        </>
      )}
      {r.effectiveDateTime && (
        <>
          <dt>Date</dt>
          <dd>{new Date(r.effectiveDateTime).toLocaleDateString('en-GB', { dateStyle: 'long' })}</dd>
        </>
      )}
    </dl>
  )
}

const STATUS: Record<string, string> = {
  active: 'Current',
  completed: 'Done',
  resolved: 'Resolved',
  inactive: 'No longer current',
  finished: 'Finished',
  stopped: 'Stopped',
  'entered-in-error': 'Entered in error',
}

/** Any other kind of record: what it is, when, and its state, in words (the full content is under Technical details). */
function GenericView({ r }: { r: Resource }) {
  const any = r as Resource & { status?: string; clinicalStatus?: { coding?: { code?: string }[] }; note?: { text?: string }[] }
  const when = clinicalDate(r)
  const status = any.clinicalStatus?.coding?.[0]?.code ?? any.status
  return (
    <dl className="facts">
      <dt>What</dt>
      <dd>{clinicalTitle(r) ?? 'A health record'}</dd>
      {when && (
        <>
          <dt>When</dt>
          <dd>{new Date(when).toLocaleDateString('en-GB', { dateStyle: 'long' })}</dd>
        </>
      )}
      {status && (
        <>
          <dt>Status</dt>
          <dd>{STATUS[status] ?? status}</dd>
        </>
      )}
      {any.note?.map((n, i) => (
        <div key={`note-${n.text ?? ''}-${i.toString()}`}>
          <dt>Note</dt>
          <dd>{n.text}</dd>
        </div>
      ))}
    </dl>
  )
}

/** The resource, rendered for a person. */
export function ResourceView({ resource }: { resource: Record<string, unknown> }) {
  const r = resource as unknown as Resource
  switch (r.resourceType) {
    case 'Observation':
      return <ObservationView o={r} />
    case 'Immunization':
      return <ImmunizationView i={r} />
    case 'DocumentReference':
      return <DocumentView d={r} />
    case 'DiagnosticReport':
      return <ReportView r={r} />
    default:
      return <GenericView r={r} />
  }
}
