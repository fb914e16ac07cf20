import { useEffect, useState } from 'react'
import { ErrorMessage, Link, Loading } from '../components.js'
import { CATEGORY_ONE, formatDateTime, nameOf } from '../lib/format.js'
import { listRecordSummaries } from '../lib/records.js'
import { useSession } from '../session.js'

type Emergency = { provider: string; providerName: string; openedAt: string; until: string; open: boolean }

type Entry = {
  seq: number
  at: string
  actor: string
  action: string
  tokenId?: string
  patient?: string
  purpose?: string
  outcome: 'allowed' | 'denied'
  reason?: string
}

const ACTION: Record<string, string> = {
  read: 'opened',
  verify: 'checked',
  'key-release': 'asked to open',
  grant: 'shared',
  revoke: 'stopped sharing',
  emergency: 'used emergency access to',
  issue: 'issued',
  amend: 'corrected',
  list: 'looked at the list of',
}

export function Activity() {
  const { api, me, names } = useSession()
  const [entries, setEntries] = useState<Entry[]>()
  const [error, setError] = useState<unknown>()
  const [deniedOnly, setDeniedOnly] = useState(false)
  const [mineToo, setMineToo] = useState(false)
  const [kinds, setKinds] = useState(new Map<string, string>())
  const [emergencies, setEmergencies] = useState<Emergency[]>([])

  useEffect(() => {
    api
      .get<{ entries: Entry[] }>('/api/audit')
      .then((r) => setEntries(r.entries.reverse()))
      .catch(setError)
    // What each of my records is, to say "lab result" rather than a number.
    listRecordSummaries(api, me.address)
      .then((records) => setKinds(new Map(records.map((x) => [x.tokenId, CATEGORY_ONE[x.category] ?? 'record']))))
      .catch(() => undefined)
    // Break-glass windows, from the chain itself: shown even if nobody reported them to this node.
    api
      .get<{ emergencies: Emergency[] }>('/api/emergencies')
      .then((r) => setEmergencies(r.emergencies))
      .catch(() => undefined)
  }, [api, me.address])

  // What a provider did while its break-glass window was open is emergency access too.
  const duringEmergency = (e: Entry) =>
    e.outcome === 'allowed' &&
    emergencies.some((w) => {
      const at = Date.parse(e.at)
      // Block times have whole seconds; the log's have milliseconds.
      return w.provider.toLowerCase() === e.actor.toLowerCase() && at >= Date.parse(w.openedAt) - 1000 && at <= Date.parse(w.until)
    })
  const isMe = (e: Entry) => e.actor.toLowerCase() === me.address.toLowerCase()
  const shown = entries?.filter((e) => (!deniedOnly || e.outcome === 'denied') && (mineToo || !isMe(e)))
  const isMine = (e: Entry) => e.patient?.toLowerCase() === me.address.toLowerCase()
  // Refused attempts by others on this patient's records; the log also holds the patient's own
  // refused requests for other people's records, which are no attempt to reach hers.
  const denied = entries?.filter((e) => e.outcome === 'denied' && isMine(e) && !isMe(e)).length ?? 0
  return (
    <>
      <h1>Activity</h1>
      <p className="lead">Who opened, checked or asked for your records, and when. Every attempt is logged, including refused ones.</p>
      {denied > 0 && (
        <p className="message message-warn">
          {denied} refused attempt{denied === 1 ? '' : 's'} to reach your records. They are marked below.
        </p>
      )}
      {emergencies.length > 0 && (
        <section className="message message-warn" aria-labelledby="emergencies-h">
          <h2 id="emergencies-h">Emergency access to your records</h2>
          <ul className="emergency-windows">
            {emergencies.map((w) => (
              <li key={`${w.provider}-${w.until}`}>
                <span className="badge badge-emergency">Emergency</span> {w.providerName || nameOf(w.provider, me.address, names)} opened
                emergency access to your records on {formatDateTime(w.openedAt)},{' '}
                {w.open ? `open until ${formatDateTime(w.until)}` : `closed on ${formatDateTime(w.until)}`}. It covers records that are not
                sensitive.
              </li>
            ))}
          </ul>
        </section>
      )}
      <label className="choice">
        <input type="checkbox" checked={deniedOnly} onChange={(e) => setDeniedOnly(e.target.checked)} />
        Show refused attempts only
      </label>
      <label className="choice">
        <input type="checkbox" checked={mineToo} onChange={(e) => setMineToo(e.target.checked)} />
        Include what I did myself
      </label>
      <ErrorMessage error={error} />
      {!shown ? (
        <Loading what="activity" />
      ) : shown.length === 0 ? (
        <p className="message">Nobody else has reached your records yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="activity">
            <caption className="visually-hidden">Access log, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => {
                const emergency = e.action === 'emergency' || e.reason === 'emergency' || e.purpose === 'emergency' || duringEmergency(e)
                const whose =
                  e.patient && e.patient.toLowerCase() !== me.address.toLowerCase() ? ` of ${nameOf(e.patient, me.address, names)}` : ''
                return (
                  <tr key={e.seq} className={e.outcome === 'denied' ? 'denied' : emergency ? 'emergency' : ''}>
                    <td>
                      <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                    </td>
                    <td>{nameOf(e.actor, me.address, names)}</td>
                    <td>
                      {ACTION[e.action] ?? e.action}{' '}
                      {e.tokenId ? (
                        <Link to={`/records/${e.tokenId}`}>{kinds.has(e.tokenId) ? `your ${kinds.get(e.tokenId)}` : 'a record'}</Link>
                      ) : whose ? (
                        'records'
                      ) : (
                        'your records'
                      )}
                      {whose}
                      {emergency && <span className="badge badge-emergency">Emergency</span>}
                    </td>
                    <td>
                      {e.outcome === 'denied' ? (
                        <span className="badge badge-bad">Refused{e.reason === 'no-grant' ? ': not shared' : ''}</span>
                      ) : (
                        <span className="badge badge-neutral">Allowed</span>
                      )}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}
