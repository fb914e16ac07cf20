/**
 * Break-glass access for an emergency provider: a clearly warned form (who, why from a short list,
 * the provider's own words). The browser signs ConsentRegistry.openEmergency with the reason's
 * hash only; the words stay off chain. The server logs the window for the patient with the
 * reason's code (POST /api/emergency). The chain then lets this provider open the patient's
 * non-sensitive records for 24 hours; their keys come from the node's escrow.
 */
import { type FormEvent, useEffect, useState } from 'react'
import { type Address, getAddress, isAddress } from 'viem'
import { ErrorMessage, Loading } from '../components.js'
import { RecordList } from '../RecordList.js'
import { formatDateTime, shortAddress } from '../lib/format.js'
import { useSession } from '../session.js'

/** The codes POST /api/emergency takes (src/server/routes/emergency.ts), in words. */
const REASONS = [
  { code: 'unresponsive', label: 'The patient is unconscious or unresponsive' },
  { code: 'life-threatening', label: 'A life-threatening condition needs their history now' },
  { code: 'cannot-communicate', label: 'The patient cannot communicate or consent' },
  { code: 'other-urgent', label: 'Another urgent clinical need' },
] as const

type Opened = { patient: Address; until: Date; reason?: string }

export function Emergency() {
  const { api, chain, me } = useSession()
  const [allowed, setAllowed] = useState<boolean>()
  const [patient, setPatient] = useState('')
  const [code, setCode] = useState<(typeof REASONS)[number]['code']>()
  const [words, setWords] = useState('')
  const [confirmed, setConfirmed] = useState(false)
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<unknown>()
  const [opened, setOpened] = useState<Opened>()

  useEffect(() => {
    chain
      .isEmergencyProvider()
      .then(setAllowed)
      .catch((err) => {
        setAllowed(false)
        setError(err)
      })
  }, [chain])

  async function open(e: FormEvent) {
    e.preventDefault()
    setError(undefined)
    if (!isAddress(patient.trim())) return setError(new Error("Enter the patient's account address (0x followed by 40 characters)."))
    if (!code) return setError(new Error('Choose why you need emergency access.'))
    if (!words.trim()) return setError(new Error('Say in a few words what happened.'))
    if (!confirmed) return setError(new Error('Confirm that this is an emergency first.'))
    const who = getAddress(patient.trim())
    setBusy('Checking for an open window…')
    try {
      const already = await chain.emergencyUntil(who)
      if (already) {
        setOpened({ patient: who, until: already })
        return
      }
      const reason = `${code}: ${words.trim()}`
      setBusy('Opening emergency access on chain…')
      const { txHash, reasonSalt, until } = await chain.openEmergency(who, reason)
      setBusy('Telling the patient…')
      await api.post('/api/emergency', { patient: who, txHash, reasonCode: code, reason, reasonSalt })
      setOpened({ patient: who, until, reason })
    } catch (err) {
      setError(err)
    } finally {
      setBusy(undefined)
    }
  }

  if (opened) {
    return (
      <>
        <h1>Emergency access</h1>
        <p className="message message-warn" role="status">
          Emergency access to patient <span title={opened.patient}>{shortAddress(opened.patient)}</span> is open until{' '}
          {formatDateTime(opened.until)}. The patient sees it in their activity. Sensitive records stay closed.
        </p>
        {opened.reason && (
          <p className="help">
            Keep your reason with your own notes; only a salted fingerprint of it is on chain: <q>{opened.reason}</q>
          </p>
        )}
        <section aria-labelledby="emergency-records-h">
          <h2 id="emergency-records-h">The patient's records</h2>
          <RecordList patient={opened.patient} emptyText="This patient has no records you may open in an emergency." />
        </section>
      </>
    )
  }

  return (
    <>
      <h1>Emergency access</h1>
      <div className="break-glass" role="note" aria-labelledby="break-glass-h">
        <h2 id="break-glass-h" className="break-glass-title">
          Break the glass only in a real emergency
        </h2>
        <ul className="break-glass-list">
          <li>You will be able to open this patient's records without their consent, for 24 hours.</li>
          <li>Only records that are not sensitive: mental health, substance use, sexual health and genetic records stay closed.</li>
          <li>
            The patient will see that {me.provider?.name ?? 'you'} did this, when, and for which reason. The reason is sealed on chain (only
            its fingerprint; your words are not published).
          </li>
          <li>It cannot be undone, and it cannot be renewed while it is open.</li>
        </ul>
      </div>
      {allowed === undefined ? (
        <Loading what="your emergency permissions" />
      ) : !allowed ? (
        <>
          <p className="message">
            Your account is not an emergency provider. The registrar names emergency providers; ask them if your team needs this.
          </p>
          <ErrorMessage error={error} />
        </>
      ) : (
        <section className="card" aria-labelledby="open-h">
          <h2 id="open-h">Open emergency access</h2>
          <form onSubmit={open}>
            <div className="field">
              <label htmlFor="e-patient">Patient account</label>
              <input
                id="e-patient"
                value={patient}
                onChange={(e) => setPatient(e.target.value)}
                placeholder="0x…"
                spellCheck={false}
                required
              />
              <p className="help">From the patient's medvault card or phone.</p>
            </div>
            <fieldset>
              <legend>Why</legend>
              <div className="choices">
                {REASONS.map((r) => (
                  <label key={r.code} className="choice">
                    <input type="radio" name="reason" checked={code === r.code} onChange={() => setCode(r.code)} />
                    {r.label}
                  </label>
                ))}
              </div>
            </fieldset>
            <div className="field">
              <label htmlFor="e-words">What happened</label>
              <textarea
                id="e-words"
                rows={3}
                value={words}
                onChange={(e) => setWords(e.target.value)}
                aria-describedby="e-words-help"
                required
              />
              <p id="e-words-help" className="help">
                In a few words. Stays off chain: only a fingerprint of it is recorded, and the patient's log keeps the reason above.
              </p>
            </div>
            <label className="choice">
              <input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} />
              This is an emergency, the patient cannot consent, and I understand the patient will see this access.
            </label>
            <ErrorMessage error={error} />
            {busy && (
              <p className="message" role="status">
                {busy}
              </p>
            )}
            <button type="submit" className="danger" disabled={!!busy}>
              Open emergency access
            </button>
          </form>
        </section>
      )}
    </>
  )
}
