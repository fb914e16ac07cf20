import { useCallback, useEffect, useState } from 'react'
import { ErrorMessage, Loading } from '../components.js'
import { CATEGORY_LABEL, CATEGORY_PLURAL, formatDate, listInWords } from '../lib/format.js'
import { type Contribution, type Earning, type Study, formatAmount, placesLeft } from '../lib/studies.js'
import { useSession } from '../session.js'

type Eligibility = { tokenId: string; category: string; eligible: boolean; reason?: string }

type Joined = {
  contributionId: string
  amount: string
  delivery: { resources: number; pseudonym: string } | null
}

/** One open study: its terms, and for a patient whose keys this server holds, which records qualify and a join button. */
function StudyCard({ study, onJoined }: { study: Study; onJoined: () => void }) {
  const { api, me } = useSession()
  const [records, setRecords] = useState<Eligibility[]>()
  const [chosen, setChosen] = useState(new Set<string>())
  const [busy, setBusy] = useState<'check' | 'join'>()
  const [error, setError] = useState<unknown>()
  const [done, setDone] = useState<string>()
  const price = formatAmount(study.pricePerRecord, study.assetInfo)
  const titleId = `study-${study.studyId}-h`

  async function check() {
    setBusy('check')
    setError(undefined)
    try {
      const r = await api.get<{ records: Eligibility[] }>(`/api/studies/${study.studyId}/eligibility`)
      setRecords(r.records)
      setChosen(new Set(r.records.filter((x) => x.eligible).map((x) => x.tokenId)))
    } catch (e) {
      setError(e)
    } finally {
      setBusy(undefined)
    }
  }

  async function join() {
    setBusy('join')
    setError(undefined)
    setDone(undefined)
    try {
      const r = await api.post<Joined>(`/api/studies/${study.studyId}/join`, { tokenIds: [...chosen] })
      setDone(
        `You joined study ${study.studyId} with ${chosen.size} record${chosen.size === 1 ? '' : 's'}` +
          (r.delivery
            ? `: ${r.delivery.resources} de-identified entr${r.delivery.resources === 1 ? 'y was' : 'ies were'} sent to the researcher and ${formatAmount(r.amount, study.assetInfo)} credited to you.`
            : '.'),
      )
      setRecords(undefined)
      onJoined()
    } catch (e) {
      setError(e)
    } finally {
      setBusy(undefined)
    }
  }

  const eligible = records?.filter((r) => r.eligible) ?? []
  const other = records?.filter((r) => !r.eligible) ?? []
  return (
    <li className="card study" aria-labelledby={titleId}>
      <h3 id={titleId}>{study.description ?? `Study ${study.studyId}`}</h3>
      <p className="entry-meta">
        Study {study.studyId} · asks for your {listInWords(study.categories.map((c) => CATEGORY_PLURAL[c] ?? c))} · pays{' '}
        <strong>{price}</strong> per record · open until {formatDate(study.deadline)} · {placesLeft(study)} record
        {placesLeft(study) === 1 ? '' : 's'} still paid for
      </p>
      {!me.custodial ? (
        <p className="help">
          Your vault opens in your browser, not on this server, so joining happens with the medvault program on your own computer:{' '}
          <code>medvault study join {study.studyId} --records … --as YOU</code>.
        </p>
      ) : !records ? (
        <button type="button" className="secondary" onClick={check} disabled={busy !== undefined}>
          {busy === 'check' ? 'Checking…' : `Check my records for study ${study.studyId}`}
        </button>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault()
            void join()
          }}
        >
          {eligible.length === 0 ? (
            <p className="message">None of your records qualifies for this study.</p>
          ) : (
            <fieldset>
              <legend>Records that qualify</legend>
              <div className="choices">
                {eligible.map((r) => (
                  <label key={r.tokenId} className="choice">
                    <input
                      type="checkbox"
                      checked={chosen.has(r.tokenId)}
                      onChange={(e) => {
                        const next = new Set(chosen)
                        if (e.target.checked) next.add(r.tokenId)
                        else next.delete(r.tokenId)
                        setChosen(next)
                      }}
                    />
                    {CATEGORY_LABEL[r.category] ?? r.category}
                    {eligible.filter((x) => x.category === r.category).length > 1 &&
                      ` (${eligible.filter((x) => x.category === r.category).indexOf(r) + 1} of ${eligible.filter((x) => x.category === r.category).length})`}
                  </label>
                ))}
              </div>
            </fieldset>
          )}
          {other.length > 0 && (
            <details>
              <summary>
                {other.length} record{other.length === 1 ? '' : 's'} of yours do{other.length === 1 ? 'es' : ''} not qualify
              </summary>
              <ul>
                {other.map((r) => (
                  <li key={r.tokenId}>
                    {CATEGORY_LABEL[r.category] ?? r.category}: {r.reason}
                  </li>
                ))}
              </ul>
            </details>
          )}
          {eligible.length > 0 && (
            <>
              <p className="summary">
                Only a de-identified copy leaves: no name, address, dates other than the year, or identifiers. The researcher sees it under
                a code that is different in every study. You are paid {price} per record when it is delivered.
              </p>
              <button type="submit" disabled={busy !== undefined || chosen.size === 0}>
                {busy === 'join' ? 'Joining…' : `Join with ${chosen.size} record${chosen.size === 1 ? '' : 's'}`}
              </button>
            </>
          )}
        </form>
      )}
      <ErrorMessage error={error} />
      {done && (
        <p className="message message-ok" role="status">
          {done}
        </p>
      )}
    </li>
  )
}

/** What the market owes the patient, and a withdraw button per asset. */
function Earnings({
  earnings,
  contributions,
  onWithdrawn,
}: {
  earnings: Earning[]
  contributions: Contribution[]
  onWithdrawn: () => void
}) {
  const { api, me } = useSession()
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<unknown>()
  const [done, setDone] = useState<string>()
  const shown = earnings.filter((e) => e.earned !== '0' || e.withdrawable !== '0')

  async function payOut(e: Earning) {
    setBusy(e.asset)
    setError(undefined)
    setDone(undefined)
    try {
      const r = await api.post<{ withdrawals: { amount: string }[] }>('/api/earnings/withdraw', { asset: e.asset })
      setDone(`${formatAmount(r.withdrawals[0]?.amount ?? '0', e.assetInfo)} was paid to your account.`)
      onWithdrawn()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(undefined)
    }
  }

  return (
    <section aria-labelledby="earnings-h" className="card">
      <h2 id="earnings-h">Your earnings</h2>
      {shown.length === 0 ? (
        <p className="message">You have not been paid for any study yet.</p>
      ) : (
        <ul className="earnings">
          {shown.map((e) => (
            <li key={e.asset}>
              <p>
                Earned <strong>{formatAmount(e.earned, e.assetInfo)}</strong> in all; {formatAmount(e.withdrawable, e.assetInfo)} to
                withdraw, {formatAmount(e.withdrawn, e.assetInfo)} already paid out.
              </p>
              {me.custodial && e.withdrawable !== '0' && (
                <button type="button" onClick={() => payOut(e)} disabled={busy !== undefined}>
                  {busy === e.asset ? 'Withdrawing…' : `Withdraw ${formatAmount(e.withdrawable, e.assetInfo)}`}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {contributions.length > 0 && (
        <ul className="contributions">
          {contributions.map((c) => (
            <li key={c.contributionId}>
              Study {c.studyId}: {c.tokenIds.length} record{c.tokenIds.length === 1 ? '' : 's'} —{' '}
              {c.status === 'delivered' ? 'delivered' : c.status === 'reserved' ? 'joined, not delivered yet' : 'withdrawn'}
            </li>
          ))}
        </ul>
      )}
      <ErrorMessage error={error} />
      {done && (
        <p className="message message-ok" role="status">
          {done}
        </p>
      )}
    </section>
  )
}

/** Research studies for a patient: open studies, which records qualify, joining, and earnings. */
export function Studies() {
  const { api } = useSession()
  const [studies, setStudies] = useState<Study[]>()
  const [money, setMoney] = useState<{ earnings: Earning[]; contributions: Contribution[] }>()
  const [error, setError] = useState<unknown>()
  const load = useCallback(() => {
    api
      .get<{ studies: Study[] }>('/api/studies?state=open')
      .then((r) => setStudies(r.studies))
      .catch(setError)
    api.get<{ earnings: Earning[]; contributions: Contribution[] }>('/api/earnings').then(setMoney).catch(setError)
  }, [api])
  useEffect(load, [load])

  return (
    <>
      <h1>Research studies</h1>
      <p className="lead">
        Researchers pay for de-identified copies of records. You choose the records; nothing leaves until you join, and you are paid when
        the copy is delivered.
      </p>
      <p className="help">
        Joining is public on the blockchain: anyone can see that your account joined a study and was paid, though not what your records say.
      </p>
      <ErrorMessage error={error} />
      {money && <Earnings earnings={money.earnings} contributions={money.contributions} onWithdrawn={load} />}
      <section aria-labelledby="open-h">
        <h2 id="open-h">Open studies</h2>
        {!studies ? (
          <Loading what="studies" />
        ) : studies.length === 0 ? (
          <p className="message">No study is open right now.</p>
        ) : (
          <ul className="studies">
            {studies.map((s) => (
              <StudyCard key={s.studyId} study={s} onJoined={load} />
            ))}
          </ul>
        )}
      </section>
    </>
  )
}
