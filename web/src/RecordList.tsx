/** A list of records, newest first, each opened in the browser for its title and its verification. */
import { useEffect, useState } from 'react'
import { CategoryIcon, ErrorMessage, Link, Loading, type Verification, VerifiedBadge } from './components.js'
import { resourceTitle } from './fhir.js'
import { CATEGORY_LABEL, formatDate } from './lib/format.js'
import { type RecordSummary, openRecord } from './lib/records.js'
import { useSession } from './session.js'

/** How many of the newest records are opened and checked as the list loads. */
const AUTO_OPEN = 40

async function eachLimited<T>(items: T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0
  const worker = async () => {
    while (next < items.length) await run(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

type Row = { summary: RecordSummary; title?: string | undefined; state: Verification; detail?: string | undefined }

export function RecordList({ patient, emptyText }: { patient: string; emptyText: string }) {
  const { api, chain } = useSession()
  const [rows, setRows] = useState<Row[]>()
  const [error, setError] = useState<unknown>()

  useEffect(() => {
    let live = true
    setRows(undefined)
    setError(undefined)
    api
      .get<{ records: RecordSummary[] }>(`/api/patients/${patient}/records`)
      .then(async ({ records }) => {
        const sorted = [...records].sort((a, b) => b.issuedAt.localeCompare(a.issuedAt) || Number(b.tokenId) - Number(a.tokenId))
        if (!live) return
        setRows(sorted.map((summary) => ({ summary, state: 'checking' })))
        // Opened a few at a time, newest first and at most AUTO_OPEN of them: each costs a few
        // requests, and a long history must not run into the server's rate limit. The rest are
        // checked when opened.
        await eachLimited(sorted.slice(0, AUTO_OPEN), 4, async (summary) => {
          let row: Row
          try {
            const opened = await openRecord(api, chain, summary.tokenId)
            const failed = opened.checks.find((c) => !c.ok)
            row = { summary, title: resourceTitle(opened.resource), state: opened.valid ? 'verified' : 'failed', detail: failed?.message }
          } catch (err) {
            row = { summary, state: 'failed', detail: (err as Error).message }
          }
          if (live) setRows((current) => current?.map((r) => (r.summary.tokenId === summary.tokenId ? row : r)))
        })
        if (live) setRows((current) => current?.map((r) => (r.state === 'checking' ? { ...r, state: 'unknown' } : r)))
      })
      .catch((err) => live && setError(err))
    return () => {
      live = false
    }
  }, [api, chain, patient])

  if (error) return <ErrorMessage error={error} />
  if (!rows) return <Loading what="records" />
  if (rows.length === 0) return <p className="message">{emptyText}</p>
  const byId = new Map(rows.map((r) => [r.summary.tokenId, r]))
  return (
    <ol className="timeline" aria-label="Records, newest first">
      {rows.map(({ summary, title, state, detail }) => {
        const label = CATEGORY_LABEL[summary.category] ?? summary.category
        const successor = summary.supersededBy ? byId.get(summary.supersededBy) : undefined
        return (
          <li key={summary.tokenId} className={`entry${summary.supersededBy ? ' amended' : ''}`}>
            <CategoryIcon category={summary.category} />
            <div className="entry-body">
              <p className="entry-title">
                <Link to={`/records/${summary.tokenId}`}>{title ?? label}</Link>
              </p>
              <p className="entry-meta">
                <span className="category">{label}</span> · <span>{summary.issuerName || 'Unknown issuer'}</span> ·{' '}
                <time dateTime={summary.issuedAt}>{formatDate(summary.issuedAt)}</time>
                {summary.sensitivity > 0 && <span className="badge badge-sensitive">Sensitive</span>}
              </p>
              {summary.supersededBy && (
                <p className="entry-note">
                  Corrected by a newer version:{' '}
                  <Link to={`/records/${summary.supersededBy}`}>{successor?.title ?? `record ${summary.supersededBy}`}</Link>
                </p>
              )}
              {summary.supersedes && (
                <p className="entry-note">
                  Corrects an earlier version: <Link to={`/records/${summary.supersedes}`}>record {summary.supersedes}</Link>
                </p>
              )}
            </div>
            <div className="entry-status">
              <VerifiedBadge state={state} detail={state === 'failed' ? detail : undefined} />
            </div>
          </li>
        )
      })}
    </ol>
  )
}
