/**
 * A patient's records in clinical time: ordered and dated by when the care happened (the issue
 * date shown as "added on"), grouped by year and by visit, filtered by category and searched by
 * text. The patient's own history is opened in the browser for its dates and titles (lib/history);
 * someone a patient shares with sees the dates of the records as they are checked.
 */
import { useDeferredValue, useEffect, useMemo, useRef, useState } from 'react'
import { CategoryIcon, ErrorMessage, Link, Loading, type Verification, VerifiedBadge } from './components.js'
import type { ClinicalFacts } from './lib/clinical.js'
import { clinicalFacts } from './lib/clinical.js'
import { CATEGORY_LABEL, CATEGORY_WORDS, formatDate, patientCategory } from './lib/format.js'
import { loadHistoryFacts } from './lib/history.js'
import { type RecordSummary, listRecordSummaries, openRecord } from './lib/records.js'
import { useSession } from './session.js'

/** How many of the most recently added records are opened and checked as the list loads. */
const AUTO_OPEN = 40

async function eachLimited<T>(items: T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0
  const worker = async () => {
    while (next < items.length) await run(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

type Check = { state: Verification; detail?: string | undefined }

type Item = {
  summary: RecordSummary
  facts: ClinicalFacts
  category: string
  label: string
  title: string
  /** The clinical date, or the issue date when the record does not say. */
  date: string
  clinical: boolean
  haystack: string
}

type Unit = { kind: 'one'; item: Item; date: string } | { kind: 'visit'; key: string; visit?: Item; members: Item[]; date: string }

const monthYear = new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric' })
const STOP = new Set(['my', 'in', 'the', 'a', 'an', 'of', 'on', 'from', 'for', 'and', 'at', 'to', 'with'])

function toItem(summary: RecordSummary, facts: ClinicalFacts): Item {
  const category = patientCategory(summary.category, facts.category)
  const label = CATEGORY_LABEL[category] ?? CATEGORY_LABEL.other!
  const clinical = Boolean(facts.date && !Number.isNaN(Date.parse(facts.date)))
  const date = clinical ? facts.date! : summary.issuedAt
  const title = facts.title ?? label
  const when = new Date(date)
  const haystack = [
    title,
    label,
    CATEGORY_WORDS[category] ?? '',
    summary.issuerName,
    facts.words ?? '',
    formatDate(when),
    monthYear.format(when),
  ]
    .join(' ')
    .toLowerCase()
  return { summary, facts, category, label, title, date, clinical, haystack }
}

/** Records in units (a single record, or a visit with the records that reference it), newest first, by year. */
function byYear(items: Item[]): [string, Unit[]][] {
  const visits = new Map<string, { visit?: Item; members: Item[] }>()
  for (const item of items) {
    if (item.category === 'encounter' && item.facts.id) {
      const v = visits.get(item.facts.id) ?? { members: [] }
      v.visit = item
      visits.set(item.facts.id, v)
    }
  }
  for (const item of items) {
    const ref = item.facts.encounter
    if (!ref || item.category === 'encounter') continue
    const v = visits.get(ref) ?? { members: [] }
    v.members.push(item)
    visits.set(ref, v)
  }
  const grouped = new Set<Item>()
  const units: Unit[] = []
  for (const [key, v] of visits) {
    if (!v.visit && v.members.length < 2) continue
    const date = v.visit?.date ?? v.members.map((m) => m.date).sort()[0]!
    units.push({ kind: 'visit', key, members: v.members, date, ...(v.visit ? { visit: v.visit } : {}) })
    if (v.visit) grouped.add(v.visit)
    for (const m of v.members) grouped.add(m)
  }
  for (const item of items) if (!grouped.has(item)) units.push({ kind: 'one', item, date: item.date })
  units.sort((a, b) => b.date.localeCompare(a.date))
  const years = new Map<string, Unit[]>()
  for (const u of units) {
    const year = String(new Date(u.date).getUTCFullYear())
    const list = years.get(year) ?? []
    list.push(u)
    years.set(year, list)
  }
  for (const list of years.values()) {
    for (const u of list) if (u.kind === 'visit') u.members.sort((a, b) => b.date.localeCompare(a.date))
  }
  return [...years]
}

function Row({ item, check, byId }: { item: Item; check: Check | undefined; byId: Map<string, Item> }) {
  const { summary, title, label, date, clinical, category } = item
  const successor = summary.supersededBy ? byId.get(summary.supersededBy) : undefined
  return (
    <li className={`entry${summary.supersededBy ? ' amended' : ''}`} data-record="">
      <CategoryIcon category={category} />
      <div className="entry-body">
        <p className="entry-title">
          <Link to={`/records/${summary.tokenId}`}>{title}</Link>
        </p>
        <p className="entry-meta">
          <span className="category">{label}</span> · <span>{summary.issuerName || 'Unknown provider'}</span> ·{' '}
          <time dateTime={date} className={clinical ? 'clinical' : undefined}>
            {formatDate(date)}
          </time>
          {(summary.sensitivity ?? 0) > 0 && <span className="badge badge-sensitive">Sensitive</span>}
        </p>
        {clinical && <p className="entry-added">added on {formatDate(summary.issuedAt)}</p>}
        {summary.supersededBy && (
          <p className="entry-note">
            Corrected by a newer version: <Link to={`/records/${summary.supersededBy}`}>{successor?.title ?? 'the corrected version'}</Link>
          </p>
        )}
        {summary.supersedes && (
          <p className="entry-note">
            Corrects an earlier version: <Link to={`/records/${summary.supersedes}`}>see the earlier version</Link>
          </p>
        )}
      </div>
      <div className="entry-status">
        <VerifiedBadge state={check?.state ?? 'unknown'} detail={check?.state === 'failed' ? check.detail : undefined} />
      </div>
    </li>
  )
}

/** Years rendered at once; older ones are laid out as they come near the screen, so a long history opens fast. */
const EAGER_YEARS = 2
/** About how tall one record's row is, to hold an older year's place until it is rendered. */
const ROW_HEIGHT = 80

function Year({
  year,
  units,
  eager,
  checks,
  byId,
}: {
  year: string
  units: Unit[]
  eager: boolean
  checks: Map<string, Check>
  byId: Map<string, Item>
}) {
  const [near, setNear] = useState(eager)
  const ref = useRef<HTMLElement>(null)
  useEffect(() => {
    if (near || !ref.current) return
    const observer = new IntersectionObserver((seen) => seen.some((e) => e.isIntersecting) && setNear(true), { rootMargin: '1200px 0px' })
    observer.observe(ref.current)
    return () => observer.disconnect()
  }, [near])
  const rows = units.reduce((n, u) => n + (u.kind === 'one' ? 1 : u.members.length + 1), 0)
  return (
    <section ref={ref} className="year" aria-labelledby={`year-${year}`}>
      <h2 id={`year-${year}`}>
        {year} <span className="year-count">· {rows === 1 ? '1 record' : `${rows.toLocaleString('en-GB')} records`}</span>
      </h2>
      {!near ? (
        <div className="year-placeholder" style={{ height: `${rows * ROW_HEIGHT}px` }} />
      ) : (
        <ol className="timeline" aria-label={`Records of ${year}, newest first`}>
          {units.map((u) =>
            u.kind === 'one' ? (
              <Row key={u.item.summary.tokenId} item={u.item} check={checks.get(u.item.summary.tokenId)} byId={byId} />
            ) : (
              <li key={`visit-${u.key}`} className="visit">
                <p className="visit-head">
                  <time dateTime={u.date}>{formatDate(u.date)}</time> ·{' '}
                  {u.visit ? (
                    <Link to={`/records/${u.visit.summary.tokenId}`}>
                      <span data-record="">{u.visit.title}</span>
                    </Link>
                  ) : (
                    'Visit'
                  )}
                  {u.visit && <> · {u.visit.summary.issuerName || 'Unknown provider'}</>}
                </p>
                {u.members.length > 0 && (
                  <ol className="timeline" aria-label="Records of this visit">
                    {u.members.map((m) => (
                      <Row key={m.summary.tokenId} item={m} check={checks.get(m.summary.tokenId)} byId={byId} />
                    ))}
                  </ol>
                )}
              </li>
            ),
          )}
        </ol>
      )}
    </section>
  )
}

type Remembered = { summaries: RecordSummary[]; facts: Map<string, ClinicalFacts>; checks: Map<string, Check> }

export function RecordList({ patient, emptyText }: { patient: string; emptyText: string }) {
  const { api, chain, me, memory } = useSession()
  const own = patient.toLowerCase() === me.address.toLowerCase()
  const slot = `records:${patient.toLowerCase()}`
  const remembered = memory.get(slot) as Remembered | undefined
  const [summaries, setSummaries] = useState(remembered?.summaries)
  const [facts, setFacts] = useState(remembered?.facts)
  const [progress, setProgress] = useState<{ opened: number; total: number }>()
  const [checks, setChecks] = useState(remembered?.checks ?? new Map<string, Check>())
  const [error, setError] = useState<unknown>()
  const [category, setCategory] = useState('all')
  const [query, setQuery] = useState('')
  const deferredQuery = useDeferredValue(query)

  useEffect(() => {
    let live = true
    const known = memory.get(slot) as Remembered | undefined
    const state: Remembered = { summaries: [], facts: new Map(known?.facts), checks: new Map(known?.checks) }
    setError(undefined)
    listRecordSummaries(api, patient)
      .then(async (records) => {
        if (!live) return
        state.summaries = records
        const missing = records.filter((r) => !state.facts.has(r.cid))
        if (own && missing.length > 0) {
          setSummaries(records)
          const loaded = await loadHistoryFacts(api, missing, (p) => live && setProgress(p))
          for (const [cid, f] of loaded) state.facts.set(cid, f)
        }
        memory.set(slot, state)
        if (!live) return
        setSummaries(records)
        setFacts(new Map(state.facts))
        // The most recently added are opened and fully checked a few at a time: each costs a few
        // requests, and a long history must not run into the server's rate limit. The rest are
        // checked when opened.
        const newest = [...records].sort((a, b) => b.issuedAt.localeCompare(a.issuedAt) || Number(b.tokenId) - Number(a.tokenId))
        const first = newest.slice(0, AUTO_OPEN).filter((r) => !state.checks.has(r.tokenId))
        if (first.length === 0) return
        setChecks(new Map([...state.checks, ...first.map((r) => [r.tokenId, { state: 'checking' }] as const)]))
        await eachLimited(first, 4, async (summary) => {
          if (!live) return
          let check: Check
          try {
            const opened = await openRecord(api, chain, summary.tokenId)
            const failed = opened.checks.find((c) => !c.ok)
            check = { state: opened.valid ? 'verified' : 'failed', detail: failed?.message }
            if (!own) {
              state.facts.set(summary.cid, clinicalFacts(opened.resource))
              if (live) setFacts(new Map(state.facts))
            }
          } catch (err) {
            check = { state: 'failed', detail: (err as Error).message }
          }
          state.checks.set(summary.tokenId, check)
          if (live) setChecks((current) => new Map(current).set(summary.tokenId, check))
        })
      })
      .catch((err) => live && setError(err))
    return () => {
      live = false
    }
  }, [api, chain, patient, own, memory, slot])

  const items = useMemo(() => summaries && facts && summaries.map((s) => toItem(s, facts.get(s.cid) ?? {})), [summaries, facts])
  const byId = useMemo(() => new Map((items ?? []).map((i) => [i.summary.tokenId, i])), [items])
  const categories = useMemo(() => {
    const counts = new Map<string, number>()
    for (const i of items ?? []) counts.set(i.category, (counts.get(i.category) ?? 0) + 1)
    return [...counts].sort((a, b) => (CATEGORY_LABEL[a[0]] ?? a[0]).localeCompare(CATEGORY_LABEL[b[0]] ?? b[0]))
  }, [items])
  const years = useMemo(() => {
    if (!items) return []
    const words = deferredQuery
      .toLowerCase()
      .split(/\s+/)
      .filter((w) => w && !STOP.has(w))
    const shown = items.filter((i) => (category === 'all' || i.category === category) && words.every((w) => i.haystack.includes(w)))
    return byYear(shown)
  }, [items, category, deferredQuery])

  if (error) return <ErrorMessage error={error} />
  if (!summaries) return <Loading what="records" />
  if (summaries.length === 0) return <p className="message">{emptyText}</p>
  if (!items)
    return (
      <p className="message" role="status" aria-live="polite">
        Opening your records in this browser to date them
        {progress ? ` (${progress.opened.toLocaleString('en-GB')} of ${progress.total.toLocaleString('en-GB')})` : ''}…
      </p>
    )
  const count = years.reduce(
    (n, [, units]) => n + units.reduce((m, u) => m + (u.kind === 'one' ? 1 : u.members.length + (u.visit ? 1 : 0)), 0),
    0,
  )
  return (
    <div className="history">
      <search className="filters" aria-label="Find a record">
        <div className="field">
          <label htmlFor="record-search">Search</label>
          <input
            id="record-search"
            type="search"
            placeholder="for example: blood test March 2019"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="record-category">Show</label>
          <select id="record-category" value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="all">Everything ({items.length.toLocaleString('en-GB')})</option>
            {categories.map(([c, n]) => (
              <option key={c} value={c}>
                {CATEGORY_LABEL[c] ?? CATEGORY_LABEL.other} ({n.toLocaleString('en-GB')})
              </option>
            ))}
          </select>
        </div>
      </search>
      <p className="help" role="status" aria-live="polite">
        {count === items.length
          ? `${count.toLocaleString('en-GB')} records, newest first.`
          : `${count.toLocaleString('en-GB')} of ${items.length.toLocaleString('en-GB')} records match.`}
      </p>
      {years.map(([year, units], i) => (
        <Year key={year} year={year} units={units} eager={i < EAGER_YEARS} checks={checks} byId={byId} />
      ))}
    </div>
  )
}
