import { useEffect, useState } from 'react'
import { CategoryIcon, ErrorMessage, Link, Loading, VerifiedBadge } from '../components.js'
import { ResourceView } from '../fhir.js'
import { clinicalFacts } from '../lib/clinical.js'
import { CATEGORY_LABEL, formatDate, patientCategory } from '../lib/format.js'
import { type OpenedRecord, openRecord } from '../lib/records.js'
import { useSession } from '../session.js'

const CHECK_LABEL: Record<string, string> = {
  token: 'Record exists',
  issuer: 'Issued by an accredited provider',
  ciphertext: 'Stored copy intact',
  decryption: 'Opened privately in this browser',
  'issuer-signature': 'Confirmed by the provider who wrote it',
  commitment: 'Unchanged since it was added',
}

/** What a failed check means, for a person; the exact reason is under "Technical details". */
const CHECK_FAILED: Record<string, string> = {
  token: 'this record could not be found.',
  issuer: 'the provider was not accredited when the record was added.',
  ciphertext: 'the stored copy was damaged or altered.',
  decryption: 'it could not be opened in this browser.',
  'issuer-signature': 'the provider named on it did not write it, or it was changed.',
  commitment: 'it was changed after it was added. Do not trust it.',
}

const FILE_EXTENSION: Record<string, string> = {
  'application/pdf': 'pdf',
  'application/dicom': 'dcm',
  'image/png': 'png',
  'image/jpeg': 'jpg',
}
const formatBytes = (n: number) =>
  n < 1024 ? `${n} bytes` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`

function Media({ opened }: { opened: OpenedRecord }) {
  const [url, setUrl] = useState<string>()
  useEffect(() => {
    const u = URL.createObjectURL(new Blob([opened.content as BlobPart], { type: opened.meta.contentType }))
    setUrl(u)
    return () => URL.revokeObjectURL(u)
  }, [opened])
  if (!url) return null
  const { summary, meta } = opened
  const label = CATEGORY_LABEL[summary.category] ?? summary.category
  const issued = `issued by ${summary.issuerName || 'an unknown issuer'} on ${formatDate(summary.issuedAt)}`
  if (/^image\/(png|jpeg)$/.test(meta.contentType))
    return <img className="media" src={url} alt={`${label} scan attached to this record, ${issued}`} />
  const kind = meta.contentType === 'application/pdf' ? 'PDF' : meta.contentType === 'application/dicom' ? 'DICOM image' : 'file'
  const ext = FILE_EXTENSION[meta.contentType] ?? 'bin'
  return (
    <>
      <p>
        This record holds a {kind} ({formatBytes(meta.size)}), decrypted in this browser. It is not shown here.
      </p>
      <p>
        <a className="button" href={url} download={`${label.toLowerCase().replace(/\W+/g, '-')}-${summary.issuedAt.slice(0, 10)}.${ext}`}>
          Download the {kind}
        </a>
      </p>
    </>
  )
}

export function RecordPage({ tokenId }: { tokenId: string }) {
  const { api, chain, me, names } = useSession()
  const [opened, setOpened] = useState<OpenedRecord>()
  const [error, setError] = useState<unknown>()

  useEffect(() => {
    let live = true
    setOpened(undefined)
    setError(undefined)
    openRecord(api, chain, tokenId).then(
      (r) => live && setOpened(r),
      (e) => live && setError(e),
    )
    return () => {
      live = false
    }
  }, [api, chain, tokenId])

  const back = me.provider ? '/provider' : '/'
  if (error)
    return (
      <>
        <h1>This record</h1>
        <ErrorMessage error={error} />
        <p>
          <Link to={back}>Back</Link>
        </p>
      </>
    )
  if (!opened) return <Loading what="the record (decrypting in your browser)" />
  const { summary, resource } = opened
  const facts = clinicalFacts(resource)
  const category = patientCategory(summary.category, facts.category)
  const label = CATEGORY_LABEL[category] ?? CATEGORY_LABEL.other!
  const mine = summary.patient === me.address
  return (
    <article className="record">
      <p>
        <Link to={back}>← {mine ? 'All my records' : 'Back'}</Link>
      </p>
      <header className="record-head">
        <CategoryIcon category={category} />
        <div>
          <h1>{facts.title ?? label}</h1>
          <p className="entry-meta">
            {label} · {summary.issuerName || 'an unknown provider'}
            {facts.date && (
              <>
                {' '}
                · <time dateTime={facts.date}>{formatDate(facts.date)}</time>
              </>
            )}{' '}
            · added on <time dateTime={summary.issuedAt}>{formatDate(summary.issuedAt)}</time>
            {!mine && <> · patient {names.get(summary.patient.toLowerCase()) ?? summary.patient}</>}
          </p>
        </div>
        <VerifiedBadge state={opened.valid ? 'verified' : 'failed'} />
      </header>
      {summary.supersededBy && (
        <p className="message message-warn">
          This record was corrected. <Link to={`/records/${summary.supersededBy}`}>See the corrected version</Link>.
        </p>
      )}
      {summary.supersedes && (
        <p className="message">
          This is a correction of <Link to={`/records/${summary.supersedes}`}>an earlier record</Link>.
        </p>
      )}
      <section aria-labelledby="content-h">
        <h2 id="content-h" className="visually-hidden">
          Content
        </h2>
        {resource ? <ResourceView resource={resource} /> : <Media opened={opened} />}
      </section>
      <section aria-labelledby="checks-h" className="checks">
        <h2 id="checks-h">Checked</h2>
        <ul className="check-list">
          {opened.checks.map((c) => (
            <li key={c.id} className={c.ok ? 'ok' : 'bad'}>
              <span aria-hidden="true">{c.ok ? '✓' : '✗'}</span> {CHECK_LABEL[c.id] ?? 'Another check'}
              {!c.ok && <>: {CHECK_FAILED[c.id] ?? 'it failed.'}</>}
            </li>
          ))}
        </ul>
      </section>
      <details className="technical" open={!opened.valid}>
        <summary>Technical details</summary>
        <dl className="facts">
          <dt>Record number</dt>
          <dd>{summary.tokenId}</dd>
          <dt>Stored as</dt>
          <dd>{opened.meta.contentType}</dd>
          <dt>Content address</dt>
          <dd>
            <code>{summary.cid}</code>
          </dd>
        </dl>
        <h3>How it was checked</h3>
        <ul className="check-details">
          {opened.checks.map((c) => (
            <li key={c.id}>
              <strong>{CHECK_LABEL[c.id] ?? c.id}:</strong> {c.message}
            </li>
          ))}
        </ul>
        {resource && (
          <>
            <h3>The record as stored (FHIR R4 JSON)</h3>
            <pre id="raw-record" className="raw">
              {JSON.stringify(resource, null, 2)}
            </pre>
          </>
        )}
      </details>
    </article>
  )
}
