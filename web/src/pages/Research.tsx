import { type FormEvent, useCallback, useEffect, useState } from 'react'
import { ErrorMessage, Loading } from '../components.js'
import { CATEGORY_LABEL, formatDate, shortAddress } from '../lib/format.js'
import { type Study, formatAmount } from '../lib/studies.js'
import { useSession } from '../session.js'

const STUDY_CATEGORIES = ['laboratory', 'imaging', 'immunization', 'medication', 'clinical-note', 'other'] as const

type Delivery = { contributionId: string; patient: string; datasetCid: string; amount: string }
type Dataset = {
  resources: number
  deliveries: { contributionId: string }[]
  kAnonymity: { k: number; classes: number; smallestClass: number; violating: unknown[] }
  ndjson: string
}

/** Posting a study: the description and coded criteria go into its protocol document, the budget into escrow. */
function PostStudy({ onPosted }: { onPosted: () => void }) {
  const { api } = useSession()
  const [description, setDescription] = useState('')
  const [categories, setCategories] = useState(new Set<string>(['laboratory']))
  const [price, setPrice] = useState('1000000000000000')
  const [records, setRecords] = useState('10')
  const [days, setDays] = useState('30')
  const [criteria, setCriteria] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  const [done, setDone] = useState<string>()

  async function submit(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    setDone(undefined)
    try {
      const codes = criteria
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .map((line) => {
          const [system, code] = line.split('|').map((x) => x.trim())
          if (!system || !code) throw new Error(`"${line}" is not a coding; write system|code, e.g. http://loinc.org|2345-7.`)
          return { system, code }
        })
      const r = await api.post<{ studyId: string }>('/api/studies', {
        description,
        ...(codes.length > 0 ? { protocol: { criteria: codes } } : {}),
        categories: [...categories],
        pricePerRecord: price,
        maxRecords: Number(records),
        deadline: new Date(Date.now() + Number(days) * 86_400_000).toISOString(),
      })
      setDone(`Posted study ${r.studyId}; its budget is in escrow.`)
      onPosted()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={submit}>
      <div className="field">
        <label htmlFor="s-description">Description</label>
        <input id="s-description" value={description} onChange={(e) => setDescription(e.target.value)} required maxLength={1000} />
      </div>
      <fieldset>
        <legend>Records asked for</legend>
        <div className="choices">
          {STUDY_CATEGORIES.map((c) => (
            <label key={c} className="choice">
              <input
                type="checkbox"
                checked={categories.has(c)}
                onChange={(e) => {
                  const next = new Set(categories)
                  if (e.target.checked) next.add(c)
                  else next.delete(c)
                  setCategories(next)
                }}
              />
              {CATEGORY_LABEL[c]}
            </label>
          ))}
        </div>
      </fieldset>
      <div className="grid">
        <div className="field">
          <label htmlFor="s-price">Price per record (wei)</label>
          <input id="s-price" value={price} onChange={(e) => setPrice(e.target.value)} inputMode="numeric" pattern="[1-9][0-9]*" required />
        </div>
        <div className="field">
          <label htmlFor="s-records">Records paid for</label>
          <input id="s-records" value={records} onChange={(e) => setRecords(e.target.value)} inputMode="numeric" pattern="[1-9][0-9]*" />
        </div>
        <div className="field">
          <label htmlFor="s-days">Open for (days)</label>
          <input id="s-days" value={days} onChange={(e) => setDays(e.target.value)} inputMode="numeric" pattern="[1-9][0-9]*" />
        </div>
      </div>
      <div className="field">
        <label htmlFor="s-criteria">Coded criteria (optional, one system|code a line)</label>
        <textarea id="s-criteria" rows={3} value={criteria} onChange={(e) => setCriteria(e.target.value)} spellCheck={false} />
        <p className="help">A record qualifies when it carries one of these codings, e.g. http://loinc.org|2345-7.</p>
      </div>
      <ErrorMessage error={error} />
      {done && (
        <p className="message message-ok" role="status">
          {done}
        </p>
      )}
      <button type="submit" disabled={busy || categories.size === 0}>
        {busy ? 'Posting…' : 'Post study'}
      </button>
    </form>
  )
}

/** One of the researcher's studies: counts before buying, deliveries, download and close. */
function MyStudy({ study, onChanged }: { study: Study; onChanged: () => void }) {
  const { api } = useSession()
  const [deliveries, setDeliveries] = useState<Delivery[]>()
  const [dataset, setDataset] = useState<{ url: string; data: Dataset }>()
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    api
      .get<{ deliveries?: Delivery[] }>(`/api/studies/${study.studyId}`)
      .then((r) => setDeliveries(r.deliveries ?? []))
      .catch(setError)
  }, [api, study.studyId])
  useEffect(() => () => dataset && URL.revokeObjectURL(dataset.url), [dataset])

  async function act(what: 'download' | 'close') {
    setBusy(what)
    setError(undefined)
    try {
      if (what === 'download') {
        const data = await api.get<Dataset>(`/api/studies/${study.studyId}/dataset`)
        setDataset({ url: URL.createObjectURL(new Blob([data.ndjson], { type: 'application/fhir+ndjson' })), data })
      } else {
        await api.post(`/api/studies/${study.studyId}/close`, {})
        onChanged()
      }
    } catch (err) {
      setError(err)
    } finally {
      setBusy(undefined)
    }
  }

  const titleId = `my-study-${study.studyId}-h`
  return (
    <li className="card study" aria-labelledby={titleId}>
      <h3 id={titleId}>
        Study {study.studyId}: {study.description ?? 'no description published'}
      </h3>
      <p className="entry-meta">
        {study.state} · {formatAmount(study.pricePerRecord, study.assetInfo)} per record · {study.delivered} delivered, {study.reserved}{' '}
        joined and waiting, of {study.maxRecords} · until {formatDate(study.deadline)}
      </p>
      {study.eligible && (
        <p className="help">
          Records on this network, of any kind (only patients can tell a record's kind; counts under 11 hidden): at most{' '}
          {study.eligible.records}, held by {study.eligible.patients} patient(s).
        </p>
      )}
      {!deliveries ? (
        <Loading what="deliveries" />
      ) : deliveries.length === 0 ? (
        <p className="message">Nothing delivered yet.</p>
      ) : (
        <ul className="deliveries">
          {deliveries.map((d) => (
            <li key={d.contributionId}>
              Contribution {d.contributionId} from account {shortAddress(d.patient)}: paid {formatAmount(d.amount, study.assetInfo)}
            </li>
          ))}
        </ul>
      )}
      <div className="actions">
        <button type="button" className="secondary" onClick={() => act('download')} disabled={busy !== undefined || !deliveries?.length}>
          {busy === 'download' ? 'Downloading…' : `Download the data of study ${study.studyId}`}
        </button>
        {(study.state === 'open' || study.state === 'expired') && (
          <button type="button" className="secondary" onClick={() => act('close')} disabled={busy !== undefined}>
            {busy === 'close' ? 'Closing…' : `Close study ${study.studyId}`}
          </button>
        )}
      </div>
      {dataset && (
        <p className="message message-ok" role="status">
          {dataset.data.resources} de-identified entries from {dataset.data.deliveries.length} deliveries, each checked against its
          commitment on chain. k-anonymity (year of birth, sex, 3-digit ZIP): smallest group {dataset.data.kAnonymity.smallestClass},{' '}
          {dataset.data.kAnonymity.violating.length === 0
            ? `${dataset.data.kAnonymity.k}-anonymous`
            : `${dataset.data.kAnonymity.violating.length} group(s) under k`}
          .{' '}
          <a href={dataset.url} download={`study-${study.studyId}.ndjson`}>
            Save study-{study.studyId}.ndjson
          </a>
        </p>
      )}
      <ErrorMessage error={error} />
    </li>
  )
}

/** The researcher's view: post a study, see deliveries, download the de-identified data. */
export function Research() {
  const { api, me } = useSession()
  const [studies, setStudies] = useState<Study[]>()
  const [error, setError] = useState<unknown>()
  const load = useCallback(() => {
    api
      .get<{ studies: Study[] }>(`/api/studies?researcher=${me.address}`)
      .then((r) => setStudies(r.studies))
      .catch(setError)
  }, [api, me.address])
  useEffect(load, [load])

  return (
    <>
      <h1>Research</h1>
      <p className="lead">Your studies, and the de-identified data patients delivered to them.</p>
      <ErrorMessage error={error} />
      <section aria-labelledby="mine-h">
        <h2 id="mine-h">Your studies</h2>
        {!studies ? (
          <Loading what="studies" />
        ) : studies.length === 0 ? (
          <p className="message">You have not posted a study yet.</p>
        ) : (
          <ul className="studies">
            {studies.map((s) => (
              <MyStudy key={s.studyId} study={s} onChanged={load} />
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="post-h" className="card">
        <h2 id="post-h">Post a study</h2>
        <PostStudy onPosted={load} />
      </section>
    </>
  )
}
