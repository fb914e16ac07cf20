/**
 * For a verifier (an insurer, a border agent, a school), with no account: paste or upload a SMART
 * Health Card or a proof of treatment and get a plain verdict with its reasons. The server checks
 * it against the chain (POST /verify/health-card, POST /verify/claim); nothing is stored.
 */
import { type FormEvent, useContext, useState } from 'react'
import { ErrorMessage } from '../components.js'
import { formatDate, formatDateTime } from '../lib/format.js'
import { SessionContext } from '../session.js'

type Check = { id: string; ok: boolean; message: string; detail?: string }
type Fact = { kind: string; what: string; date?: string; detail?: string }
type CardResult = {
  valid: boolean
  summary: string
  issuer: { name: string; url: string } | null
  issuedAt: string | null
  expiresAt: string | null
  types: string[]
  checks: Check[]
  contents: { person?: { name?: string; birthDate?: string }; facts: Fact[] } | null
}
type CardAnswer = { valid: boolean; summary: string; cards: CardResult[] }
type ClaimAnswer = {
  valid: boolean
  summary: string
  audience: string
  checks: Check[]
  disclosed: { tokenId: string; issuer: string; issuedAt: string; fields: Record<string, unknown> }[]
}

type Kind = 'card' | 'claim'

async function ask<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) {
    let message = `The server answered ${res.status}.`
    try {
      message = ((await res.json()) as { issue?: { diagnostics?: string }[] }).issue?.[0]?.diagnostics ?? message
    } catch {
      // not an OperationOutcome
    }
    throw new Error(message)
  }
  return (await res.json()) as T
}

function Verdict({ valid, summary }: { valid: boolean; summary: string }) {
  return (
    <div className={`verdict ${valid ? 'verdict-ok' : 'verdict-bad'}`} role="status">
      <p className="verdict-word">
        <span aria-hidden="true">{valid ? '✓' : '✗'}</span> {valid ? 'Valid' : 'Not valid'}
      </p>
      <p>{summary.replace(/^(Not valid|Valid): /, '')}</p>
    </div>
  )
}

function Reasons({ checks }: { checks: Check[] }) {
  return (
    <ul className="check-list" aria-label="Reasons">
      {checks.map((c) => (
        <li key={c.id} className={c.ok ? 'ok' : 'bad'}>
          <span aria-hidden="true">{c.ok ? '✓' : '✗'}</span> {c.message}
          {c.detail && c.detail !== c.message && <small className="check-detail"> ({c.detail})</small>}
        </li>
      ))}
    </ul>
  )
}

function CardDetails({ card }: { card: CardResult }) {
  return (
    <>
      {card.contents && (
        <section aria-labelledby="says-h">
          <h3 id="says-h">What the card says</h3>
          {card.contents.person && (
            <p>
              <strong>{card.contents.person.name ?? 'A person'}</strong>
              {card.contents.person.birthDate && <>, born {formatDate(card.contents.person.birthDate)}</>}
            </p>
          )}
          <ul className="facts-list">
            {card.contents.facts.map((f) => (
              <li key={`${f.kind}|${f.what}|${f.date}|${f.detail}`}>
                <strong>{f.what}</strong>
                {f.date && <> on {formatDate(f.date)}</>}
                {f.detail && <span className="help"> · {f.detail}</span>}
              </li>
            ))}
          </ul>
          <p className="help">Check that the name and birth date match the person's identity document.</p>
        </section>
      )}
      <h3>Why</h3>
      <Reasons checks={card.checks} />
    </>
  )
}

export function Verify() {
  // Signed in (an insurer with an account): a proof is checked for this account, and the check is in the patient's log.
  const session = useContext(SessionContext)
  const send = <T,>(path: string, body: unknown) => (session ? session.api.post<T>(path, body) : ask<T>(path, body))
  const [kind, setKind] = useState<Kind>('card')
  const [text, setText] = useState('')
  const [nonce, setNonce] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  const [card, setCard] = useState<CardAnswer>()
  const [claim, setClaim] = useState<ClaimAnswer>()

  function reset() {
    setError(undefined)
    setCard(undefined)
    setClaim(undefined)
  }

  async function submit(e: FormEvent) {
    e.preventDefault()
    reset()
    const input = text.trim()
    if (!input)
      return setError(new Error(kind === 'card' ? 'Paste the health card, or choose its file.' : 'Paste the proof, or choose its file.'))
    setBusy(true)
    try {
      if (kind === 'card') {
        // Several QR texts (one per line) are the chunks of one card.
        const lines = input.split(/\s+/).filter((l) => l.toLowerCase().startsWith('shc:/'))
        setCard(await send<CardAnswer>('/verify/health-card', { card: lines.length > 1 ? lines : input }))
      } else {
        let presentation: unknown
        try {
          presentation = JSON.parse(input)
        } catch {
          throw new Error('This is not a proof of treatment: it should be the JSON file the patient gave you.')
        }
        setClaim(await send<ClaimAnswer>('/verify/claim', { presentation, ...(nonce.trim() ? { nonce: nonce.trim() } : {}) }))
      }
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <h1>Verify a health card or proof</h1>
      <p className="lead">
        Check a SMART Health Card (a vaccination or test certificate) or a patient's proof of treatment. No account needed: it is checked
        against the medvault provider registry, and nothing you paste is kept.
      </p>
      <section className="card" aria-labelledby="verify-h">
        <h2 id="verify-h" className="visually-hidden">
          What to check
        </h2>
        <form onSubmit={submit}>
          <fieldset>
            <legend>What do you have?</legend>
            <div className="choices">
              <label className="choice">
                <input
                  type="radio"
                  name="kind"
                  checked={kind === 'card'}
                  onChange={() => {
                    setKind('card')
                    reset()
                  }}
                />
                A health card (QR code text or .smart-health-card file)
              </label>
              <label className="choice">
                <input
                  type="radio"
                  name="kind"
                  checked={kind === 'claim'}
                  onChange={() => {
                    setKind('claim')
                    reset()
                  }}
                />
                A proof of treatment (for an insurer)
              </label>
            </div>
          </fieldset>
          <div className="field">
            <label htmlFor="verify-text">{kind === 'card' ? 'The health card' : 'The proof of treatment'}</label>
            <textarea
              id="verify-text"
              rows={6}
              spellCheck={false}
              value={text}
              onChange={(e) => setText(e.target.value)}
              aria-describedby="verify-help"
              placeholder={kind === 'card' ? 'shc:/5676290952432060346029243740…' : '{"v":1,"chainId":…}'}
            />
            <p id="verify-help" className="help">
              {kind === 'card'
                ? 'Paste the text a QR scanner read (it starts with shc:/), the card itself (eyJ…), or choose the file below.'
                : 'Paste the JSON the patient sent you, or choose the file below.'}
            </p>
          </div>
          <div className="field">
            <label htmlFor="verify-file">Or choose a file</label>
            <input
              key={kind}
              id="verify-file"
              type="file"
              accept=".smart-health-card,.json,.txt,application/smart-health-card,application/json,text/plain"
              onChange={async (e) => {
                reset()
                const picked = e.target.files?.[0]
                if (picked) setText(await picked.text())
              }}
            />
          </div>
          {kind === 'claim' && (
            <div className="field">
              <label htmlFor="verify-nonce">The nonce you asked for (optional)</label>
              <input id="verify-nonce" value={nonce} onChange={(e) => setNonce(e.target.value)} placeholder="0x…" spellCheck={false} />
              <p className="help">If you gave the patient a nonce, enter it: a proof made for another request is then refused.</p>
              <p className="help">
                {session
                  ? 'You are signed in: the proof is checked for your account, and the patient sees the check in their activity.'
                  : 'You are not signed in: the proof is checked for the verifier it names.'}
              </p>
            </div>
          )}
          <ErrorMessage error={error} />
          <button type="submit" disabled={busy}>
            {busy ? 'Checking…' : 'Check'}
          </button>
        </form>
      </section>

      {card && (
        <section aria-labelledby="result-h" className="card">
          <h2 id="result-h">Result</h2>
          <Verdict valid={card.valid} summary={card.summary} />
          {card.cards.length === 1 ? (
            <CardDetails card={card.cards[0]!} />
          ) : (
            card.cards.map((c, i) => (
              <section key={`${c.issuer?.url}|${c.issuedAt}|${c.summary}|${c.types.join()}`} aria-label={`Card ${i + 1}`}>
                <h3>
                  Card {i + 1}: {c.valid ? 'valid' : 'not valid'}
                </h3>
                <CardDetails card={c} />
              </section>
            ))
          )}
        </section>
      )}

      {claim && (
        <section aria-labelledby="result-h" className="card">
          <h2 id="result-h">Result</h2>
          <Verdict valid={claim.valid} summary={claim.summary} />
          {claim.disclosed.length > 0 && (
            <>
              <h3>What the patient disclosed</h3>
              {claim.disclosed.map((d) => (
                <div key={d.tokenId}>
                  <p>
                    Record {d.tokenId}, issued by <strong>{d.issuer}</strong> on {formatDateTime(d.issuedAt)}:
                  </p>
                  <ul className="facts-list">
                    {Object.entries(d.fields).map(([path, value]) => (
                      <li key={path}>
                        <code>{path}</code>: <strong>{String(value)}</strong>
                      </li>
                    ))}
                  </ul>
                </div>
              ))}
              <p className="help">Nothing else of these records was revealed to you.</p>
            </>
          )}
          <h3>Why</h3>
          <Reasons checks={claim.checks} />
        </section>
      )}
    </>
  )
}
