import { type FormEvent, useCallback, useEffect, useState } from 'react'
import { type Address, getAddress, isAddress } from 'viem'
import { PURPOSES, grantClasses } from '../../../src/consent/grantTerms.js'
import { CATEGORIES, type Category, SENSITIVE_CATEGORIES } from '../../../src/core/categories.js'
import type { TagTable } from '../../../src/core/categoryTags.js'
import { ErrorMessage, Loading } from '../components.js'
import { CATEGORY_LABEL, CATEGORY_PLURAL, ORDINARY, SENSITIVE, formatDate, formatDateTime, listInWords, nameOf } from '../lib/format.js'
import { type RecordSummary, releaseKeys } from '../lib/records.js'
import type { GrantJson } from '../lib/chain.js'
import { useSession } from '../session.js'

/** A grant as GET /api/grants gives it: on chain its categories are the patient's tags, mapped back here with the patient's own table. */
type Grant = GrantJson & {
  createdAt: string
  expiresAt: string
  revokedAt?: string
  active: boolean
}

const PRESETS = [
  { id: '1d', label: '1 day', days: 1 },
  { id: '7d', label: '1 week', days: 7 },
  { id: '30d', label: '30 days', days: 30 },
  { id: '365d', label: '1 year', days: 365 },
] as const

const PURPOSE_LABEL: Record<string, string> = {
  treatment: 'My treatment',
  payment: 'Payment or insurance',
  research: 'Research',
  emergency: 'Emergency care',
  other: 'Something else',
}

function grantWhat(g: Grant, table: TagTable): string {
  const { categories, sensitive, unknownTags } = grantClasses(g, table)
  if (g.scope === 'all') return sensitive ? 'all your records, including sensitive ones' : 'all your records except sensitive ones'
  if (g.scope === 'records') return 'the records you picked'
  const names = CATEGORIES.filter((c) => categories?.includes(c)).map((c) => CATEGORY_PLURAL[c] ?? c)
  // Tags of a tag secret this account no longer uses (before a recovery): shown, never guessed.
  if (unknownTags.length > 0) names.push(`${unknownTags.length} other kind${unknownTags.length === 1 ? '' : 's'} of record`)
  return `your ${listInWords(names)}`
}

/**
 * Seals to `reader` the classes of the patient's tags that its grants (and a delegate's role) give
 * it, so it can list what it was given by category (see chain.shareGrantedTags).
 */
async function shareTags(api: ReturnType<typeof useSession>['api'], chain: ReturnType<typeof useSession>['chain'], reader: Address) {
  const [{ grants }, { records }] = await Promise.all([
    api.get<{ grants: Grant[] }>('/api/grants'),
    api.get<{ records: RecordSummary[] }>(`/api/patients/${api.account.address}/records`),
  ])
  return chain.shareGrantedTags(
    reader,
    grants,
    records.map((r) => r.issuer),
  )
}

/** The patient's delegates (guardians or carers who may share and stop sharing for them), named and removed on chain from here. */
function Delegates() {
  const { api, chain, me, names } = useSession()
  const [delegates, setDelegates] = useState<Address[]>()
  const [address, setAddress] = useState('')
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<unknown>()
  const [done, setDone] = useState<string>()
  const load = useCallback(() => {
    chain.delegates().then(setDelegates, setError)
  }, [chain])
  useEffect(load, [load])

  async function change(delegate: Address, enabled: boolean) {
    setError(undefined)
    setDone(undefined)
    setBusy(enabled ? 'Naming…' : 'Removing…')
    try {
      await chain.setDelegate(delegate, enabled)
      // A delegate grants by category with the open classes of your tags, sealed to it here (never the sensitive ones).
      if (enabled) await shareTags(api, chain, delegate)
      const who = nameOf(delegate, me.address, names)
      setDone(enabled ? `${who} can now share and stop sharing your records for you.` : `${who} is no longer your delegate.`)
      if (enabled) setAddress('')
      load()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(undefined)
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault()
    const a = address.trim()
    if (!isAddress(a)) return setError(new Error("Enter the delegate's account address (0x followed by 40 characters)."))
    if (getAddress(a) === me.address) return setError(new Error('You cannot name yourself as your delegate.'))
    void change(getAddress(a), true)
  }

  return (
    <section aria-labelledby="delegates-h" className="card">
      <h2 id="delegates-h">Delegates</h2>
      <p className="help">
        A delegate (a guardian or carer) can share your records and stop sharing for you, but never your sensitive records, and can do
        nothing else.
      </p>
      {!delegates ? (
        <Loading what="your delegates" />
      ) : delegates.length === 0 ? (
        <p className="message">You have not named a delegate.</p>
      ) : (
        <ul className="grants delegates">
          {delegates.map((d) => (
            <li key={d} className="grant">
              <p>
                <strong title={d}>{nameOf(d, me.address, names)}</strong> can share and stop sharing for you.
              </p>
              <button type="button" className="danger" disabled={!!busy} onClick={() => change(d, false)}>
                Remove<span className="visually-hidden"> delegate {nameOf(d, me.address, names)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="delegate">Delegate account</label>
          <input id="delegate" value={address} onChange={(e) => setAddress(e.target.value)} spellCheck={false} required />
        </div>
        <ErrorMessage error={error} />
        {done && (
          <p className="message message-ok" role="status">
            {done}
          </p>
        )}
        <button type="submit" disabled={!!busy}>
          {busy ?? 'Name delegate'}
        </button>
      </form>
    </section>
  )
}

export function Share() {
  const { api, chain, me, names } = useSession()
  const [grants, setGrants] = useState<Grant[]>()
  const [providers, setProviders] = useState<{ address: Address; name: string; status: string }[]>([])
  const [who, setWho] = useState('')
  const [other, setOther] = useState('')
  const [chosen, setChosen] = useState<Set<Category>>(new Set(['laboratory']))
  const [preset, setPreset] = useState<(typeof PRESETS)[number]['id']>('30d')
  const [purpose, setPurpose] = useState<(typeof PURPOSES)[number]>('treatment')
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<unknown>()
  const [done, setDone] = useState<string>()

  const load = useCallback(async () => {
    const [g, p] = await Promise.all([
      api.get<{ grants: Grant[] }>('/api/grants'),
      api.get<{ providers: { address: Address; name: string; status: string }[] }>('/api/providers'),
    ])
    setGrants(g.grants.reverse())
    setProviders(p.providers.filter((x) => x.status === 'active'))
  }, [api])
  useEffect(() => {
    load().catch(setError)
  }, [load])

  const grantee = who === 'other' ? (isAddress(other) ? getAddress(other) : undefined) : who ? getAddress(who) : undefined
  const granteeName = grantee ? nameOf(grantee, me.address, names) : 'them'
  const days = PRESETS.find((p) => p.id === preset)!.days
  const until = new Date(Date.now() + days * 86400_000)
  const picked = CATEGORIES.filter((c) => chosen.has(c))
  const sensitivePicked = picked.filter((c) => (SENSITIVE as readonly string[]).includes(c))

  function toggle(c: Category) {
    const next = new Set(chosen)
    if (next.has(c)) next.delete(c)
    else next.add(c)
    setChosen(next)
  }

  async function share(e: FormEvent) {
    e.preventDefault()
    setError(undefined)
    setDone(undefined)
    if (!grantee) return setError(new Error('Choose who to share with (or enter a valid account address).'))
    if (picked.length === 0) return setError(new Error('Choose at least one kind of record to share.'))
    setBusy('Sharing…')
    try {
      const sensitive = sensitivePicked.reduce((mask, c) => mask | (SENSITIVE_CATEGORIES[c] ?? 0), 0)
      const grant = await chain.grant({
        grantee,
        scope: 'categories',
        categories: picked,
        tokenIds: [],
        sensitive,
        expiresAt: until,
        purpose,
      })
      setBusy('Letting them open the shared records…')
      await shareTags(api, chain, grantee)
      const { records } = await api.get<{ records: RecordSummary[] }>(`/api/patients/${me.address}/records`)
      const released = await releaseKeys(api, chain, grant, grantee, records)
      setDone(
        `${granteeName} can now open your ${listInWords(picked.map((c) => CATEGORY_PLURAL[c] ?? c))} until ${formatDate(until)} (${released} record${released === 1 ? '' : 's'} today, and new ones as they arrive).`,
      )
      await load()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(undefined)
    }
  }

  async function revoke(g: Grant) {
    setError(undefined)
    setDone(undefined)
    setBusy(`Stopping sharing with ${nameOf(g.grantee, me.address, names)}…`)
    try {
      await chain.revoke(g)
      setDone(`${nameOf(g.grantee, me.address, names)} can no longer open ${grantWhat(g, table)}.`)
      await load()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(undefined)
    }
  }

  const table = chain.ownTagTable()
  const active = grants?.filter((g) => g.active) ?? []
  const past = grants?.filter((g) => !g.active) ?? []

  return (
    <>
      <h1>Sharing</h1>
      <section aria-labelledby="share-h" className="card">
        <h2 id="share-h">Share records</h2>
        <form onSubmit={share}>
          <div className="field">
            <label htmlFor="grantee">Who</label>
            <select id="grantee" value={who} onChange={(e) => setWho(e.target.value)} required>
              <option value="">Choose a provider…</option>
              {providers
                .filter((p) => p.address !== me.address)
                .map((p) => (
                  <option key={p.address} value={p.address}>
                    {p.name}
                  </option>
                ))}
              <option value="other">Someone else (by their account number)</option>
            </select>
          </div>
          {who === 'other' && (
            <div className="field">
              <label htmlFor="other">Their account number</label>
              <input id="other" value={other} onChange={(e) => setOther(e.target.value)} spellCheck={false} />
            </div>
          )}
          <fieldset>
            <legend>What</legend>
            <div className="choices">
              {ORDINARY.map((c) => (
                <label key={c} className="choice">
                  <input type="checkbox" checked={chosen.has(c)} onChange={() => toggle(c)} />
                  {CATEGORY_LABEL[c]}
                </label>
              ))}
            </div>
          </fieldset>
          <fieldset className="sensitive">
            <legend>Sensitive records</legend>
            <p className="help">Off unless you turn them on. These are never shared by any other choice above.</p>
            <div className="choices">
              {SENSITIVE.map((c) => (
                <label key={c} className="choice">
                  <input type="checkbox" checked={chosen.has(c)} onChange={() => toggle(c)} />
                  {CATEGORY_LABEL[c]}
                </label>
              ))}
            </div>
          </fieldset>
          <fieldset>
            <legend>Until</legend>
            <div className="choices">
              {PRESETS.map((p) => (
                <label key={p.id} className="choice">
                  <input type="radio" name="until" checked={preset === p.id} onChange={() => setPreset(p.id)} />
                  {p.label}
                </label>
              ))}
            </div>
          </fieldset>
          <div className="field">
            <label htmlFor="purpose">Why</label>
            <select id="purpose" value={purpose} onChange={(e) => setPurpose(e.target.value as (typeof PURPOSES)[number])}>
              {PURPOSES.map((p) => (
                <option key={p} value={p}>
                  {PURPOSE_LABEL[p]}
                </option>
              ))}
            </select>
          </div>
          <p className="summary" aria-live="polite">
            {grantee && picked.length > 0 ? (
              <>
                <strong>{granteeName}</strong> will be able to open your{' '}
                <strong>{listInWords(picked.map((c) => CATEGORY_PLURAL[c] ?? c))}</strong> until <strong>{formatDate(until)}</strong>, for{' '}
                {PURPOSE_LABEL[purpose]?.toLowerCase()}. You can stop this at any time.
              </>
            ) : (
              'Choose who and what to share.'
            )}
          </p>
          {sensitivePicked.length > 0 && (
            <p className="message message-warn" role="alert">
              You are sharing sensitive records: {listInWords(sensitivePicked.map((c) => CATEGORY_PLURAL[c] ?? c))}.
            </p>
          )}
          <ErrorMessage error={error} />
          {done && (
            <p className="message message-ok" role="status">
              {done}
            </p>
          )}
          <button type="submit" disabled={!!busy}>
            {busy ?? 'Share'}
          </button>
        </form>
      </section>

      <section aria-labelledby="active-h">
        <h2 id="active-h">Shared now</h2>
        {!grants ? (
          <Loading what="your sharing" />
        ) : active.length === 0 ? (
          <p className="message">You are not sharing anything right now.</p>
        ) : (
          <ul className="grants">
            {active.map((g) => (
              <li key={g.grantId} className="grant">
                <p>
                  <strong>{nameOf(g.grantee, me.address, names)}</strong> can open {grantWhat(g, table)} until{' '}
                  <time dateTime={g.expiresAt}>{formatDateTime(g.expiresAt)}</time>.
                  <span className="help"> Purpose: {PURPOSE_LABEL[g.purpose]?.toLowerCase() ?? g.purpose}.</span>
                </p>
                <button type="button" className="danger" disabled={!!busy} onClick={() => revoke(g)}>
                  Stop sharing<span className="visually-hidden"> with {nameOf(g.grantee, me.address, names)}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="past-h">
        <h2 id="past-h">Ended</h2>
        {grants && past.length === 0 ? (
          <p className="message">Nothing yet.</p>
        ) : (
          <ul className="grants past">
            {past.map((g) => (
              <li key={g.grantId} className="grant">
                <p>
                  {nameOf(g.grantee, me.address, names)} could open {grantWhat(g, table)};{' '}
                  {g.revokedAt ? (
                    <>
                      you stopped this on <time dateTime={g.revokedAt}>{formatDateTime(g.revokedAt)}</time>.
                    </>
                  ) : (
                    <>
                      it ended on <time dateTime={g.expiresAt}>{formatDateTime(g.expiresAt)}</time>.
                    </>
                  )}
                </p>
              </li>
            ))}
          </ul>
        )}
      </section>
      <Delegates />
    </>
  )
}
