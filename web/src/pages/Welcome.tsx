/**
 * A new vault's first steps: registering it so providers can send records to it (its encryption
 * key published on chain, signed here; on the embedded development chain the server first funds
 * the empty account for gas, as `medvault account create` does), then a recovery kit.
 */
import { type FormEvent, useEffect, useMemo, useState } from 'react'
import { ErrorMessage, Link } from '../components.js'
import { RECOVERY_DELAY_SECONDS, type RecoverySheet, makeRecoverySheets } from '../lib/guardians.js'
import { type KeystoreFile, rememberedKeystores } from '../lib/keystore.js'
import { useSession } from '../session.js'

type Registration = { state: 'working' } | { state: 'done' } | { state: 'needs-funds' } | { state: 'failed'; error: unknown }

export function Welcome() {
  const { api, chain, me, memory } = useSession()
  const [registration, setRegistration] = useState<Registration>(
    (memory.get('registration') as Registration | undefined) ?? { state: 'working' },
  )
  const [kitSaved, setKitSaved] = useState(false)
  const remembered = rememberedKeystores().find((f) => f.address.toLowerCase() === me.address.toLowerCase())
  // A passkey's vault has no file: its kit is the same keys sealed under a passphrase chosen for the kit.
  const [resealed, setResealed] = useState<KeystoreFile | undefined>(memory.get('kit') as KeystoreFile | undefined)
  const file = remembered ?? resealed

  useEffect(() => {
    if (memory.has('registration')) return
    let live = true
    const finish = (r: Registration) => {
      memory.set('registration', r)
      if (live) setRegistration(r)
    }
    ;(async () => {
      if (await chain.encryptionKeyOf(me.address)) return finish({ state: 'done' })
      const { funded } = await api.post<{ funded: boolean }>('/api/web/onboard', {})
      if (!funded) return finish({ state: 'needs-funds' })
      await chain.publishEncryptionKey(api.account.encryptionPublicKey)
      finish({ state: 'done' })
    })().catch((error) => finish({ state: 'failed', error }))
    return () => {
      live = false
    }
  }, [api, chain, me.address, memory])

  // The kit is the account file itself, sealed under the passphrase: what the CLI and the sign-in page open.
  const kit = file ? `${JSON.stringify(file, null, 2)}\n` : undefined
  const kitUrl = useMemo(() => (kit ? URL.createObjectURL(new Blob([kit], { type: 'application/json' })) : undefined), [kit])
  useEffect(
    () => () => {
      if (kitUrl) URL.revokeObjectURL(kitUrl)
    },
    [kitUrl],
  )

  return (
    <>
      <h1>Welcome, {api.account.name}</h1>
      <p className="lead">Your vault is made. Two short steps, and it is ready for your records.</p>

      <section className="card" aria-labelledby="step1-h">
        <h2 id="step1-h">1. Ready to receive records</h2>
        {registration.state === 'working' && (
          <p className="message" role="status" aria-live="polite">
            Registering your vault, so that your doctors and labs can send records to it…
          </p>
        )}
        {registration.state === 'done' && (
          <p className="message message-ok" role="status">
            ✓ Providers can now send records to your vault. Only you can open them.
          </p>
        )}
        {registration.state === 'needs-funds' && (
          <p className="message message-warn" role="status">
            Your vault is not registered yet: registering costs a very small network fee, and this service does not pay it for new vaults.
            Ask the people who run this service to fund your account (its number is under Technical details below), then come back to this
            page.
          </p>
        )}
        {registration.state === 'failed' && (
          <>
            <p className="message message-warn">Your vault could not be registered just now. Reload this page to try again.</p>
            <ErrorMessage error={registration.error} />
          </>
        )}
      </section>

      <section className="card" aria-labelledby="step2-h">
        <h2 id="step2-h">2. Make a recovery kit</h2>
        <p>
          Your vault lives in this browser. If this browser's data is lost, or you want to use another computer, you can open your vault
          again with your <strong>recovery kit</strong> and your passphrase. Nobody can reset your passphrase for you.
        </p>
        <ul>
          <li>Save the kit somewhere safe: a USB stick, a password manager, or print it.</li>
          <li>Keep your passphrase apart from the kit. The kit alone does not open your vault.</li>
        </ul>
        {!file && api.account.reseal && (
          <KitPassphrase
            reseal={api.account.reseal}
            onSealed={(f) => {
              memory.set('kit', f)
              setResealed(f)
            }}
          />
        )}
        {kitUrl && file && (
          <p>
            <a className="button" href={kitUrl} download={`medvault-recovery-kit-${file.name}.json`} onClick={() => setKitSaved(true)}>
              Download my recovery kit
            </a>
          </p>
        )}
        {kitSaved && (
          <p className="message message-ok" role="status">
            ✓ Recovery kit saved. To open your vault elsewhere, choose “Open a vault from its file” and pick the kit.
          </p>
        )}
        <Guardians />
      </section>

      <p>
        <Link to="/" className="button">
          Go to my records
        </Link>
      </p>
      <details className="technical">
        <summary>Technical details</summary>
        <dl className="facts">
          <dt>Account number</dt>
          <dd>
            <code>{me.address}</code>
          </dd>
          <dt>Account name (for the medvault program)</dt>
          <dd>
            <code>{api.account.name}</code>: save the kit as <code>~/.medvault/accounts/{api.account.name}.json</code> to use it there.
          </dd>
        </dl>
      </details>
    </>
  )
}

/** A passkey's vault: the kit needs a passphrase of its own, typed twice. */
function KitPassphrase({
  reseal,
  onSealed,
}: {
  reseal: (passphrase: string) => Promise<KeystoreFile>
  onSealed: (file: KeystoreFile) => void
}) {
  const [passphrase, setPassphrase] = useState('')
  const [again, setAgain] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  async function submit(event: FormEvent) {
    event.preventDefault()
    setError(undefined)
    if (passphrase !== again) return setError(new Error('The two passphrases differ. Type the same one twice.'))
    setBusy(true)
    try {
      onSealed(await reseal(passphrase))
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form onSubmit={submit} className="guardians">
      <p>Your passkey stays on this device. The kit is locked with a passphrase instead: choose one for it.</p>
      <p>
        <label htmlFor="kit-passphrase">A passphrase for the kit</label>
        <input
          id="kit-passphrase"
          type="password"
          autoComplete="new-password"
          minLength={8}
          required
          value={passphrase}
          onChange={(e) => setPassphrase(e.target.value)}
        />
      </p>
      <p>
        <label htmlFor="kit-again">Type it again</label>
        <input
          id="kit-again"
          type="password"
          autoComplete="new-password"
          required
          value={again}
          onChange={(e) => setAgain(e.target.value)}
        />
      </p>
      <ErrorMessage error={error} />
      <button type="submit" disabled={busy}>
        {busy ? 'Making the kit…' : 'Make my recovery kit'}
      </button>
    </form>
  )
}

const ORDINALS = ['First', 'Second', 'Third', 'Fourth', 'Fifth']

/**
 * Guardians without files or vaults of their own: a printed recovery sheet per trusted person.
 * The sheets are shown once, in memory; the chain records only who may approve.
 */
function Guardians() {
  const { api, chain, memory } = useSession()
  const [people, setPeople] = useState(['', '', ''])
  const [threshold, setThreshold] = useState(2)
  const [state, setState] = useState<
    { step: 'form' } | { step: 'working' } | { step: 'done'; sheets: RecoverySheet[] } | { step: 'failed'; error: unknown }
  >((memory.get('recovery-sheets') as { step: 'done'; sheets: RecoverySheet[] } | undefined) ?? { step: 'form' })
  const named = people.map((p) => p.trim()).filter(Boolean)
  const days = RECOVERY_DELAY_SECONDS / 86_400

  async function submit(event: FormEvent) {
    event.preventDefault()
    setState({ step: 'working' })
    try {
      const sheets = await makeRecoverySheets(api.account, chain, named, Math.min(threshold, named.length))
      const done = { step: 'done' as const, sheets }
      memory.set('recovery-sheets', done)
      setState(done)
    } catch (error) {
      setState({ step: 'failed', error })
    }
  }

  return (
    <>
      <h3>Or name guardians</h3>
      <p>
        Guardians are two to five people you trust: family, a friend, your doctor. Each gets a <strong>recovery sheet</strong> to keep. If
        you lose your passphrase or this device, enough of them together can move your records to a new vault for you. None of them alone
        can open your records, and if someone starts a recovery you did not ask for, you have {days} days to stop it.
      </p>
      {state.step !== 'done' && (
        <form onSubmit={submit} className="guardians">
          {people.map((value, i) => (
            <p key={ORDINALS[i]}>
              <label htmlFor={`guardian-${i}`}>
                {ORDINALS[i]} person{i >= 2 ? ' (optional)' : ''}
              </label>
              <input
                id={`guardian-${i}`}
                value={value}
                autoComplete="off"
                onChange={(e) => setPeople(people.map((p, j) => (j === i ? e.target.value : p)))}
              />
            </p>
          ))}
          {people.length < ORDINALS.length && (
            <p>
              <button type="button" className="secondary" onClick={() => setPeople([...people, ''])}>
                Add a person
              </button>
            </p>
          )}
          <p>
            <label htmlFor="guardian-threshold">How many of them must agree</label>
            <select id="guardian-threshold" value={threshold} onChange={(e) => setThreshold(Number(e.target.value))}>
              {Array.from({ length: Math.max(1, named.length - 1) }, (_, i) => i + 2).map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </p>
          <p>
            <button type="submit" disabled={named.length < 2 || state.step === 'working'}>
              Make the recovery sheets
            </button>
          </p>
          {state.step === 'working' && (
            <p className="message" role="status" aria-live="polite">
              Making the sheets and naming your guardians…
            </p>
          )}
          {state.step === 'failed' && <ErrorMessage error={state.error} />}
        </form>
      )}
      {state.step === 'done' && (
        <>
          <p className="message message-ok" role="status">
            ✓ {state.sheets.length} guardians named. Any {Math.min(threshold, state.sheets.length)} of them together can move your records
            to a new vault.
          </p>
          <p>
            Print each sheet or save it, and give it to its person. They are shown only now: this page does not keep them. To use them, a
            new vault types them in with <code>medvault recovery share --paper</code>.
          </p>
          {state.sheets.map((s) => (
            <RecoverySheetCard key={s.sheet} sheet={s} />
          ))}
        </>
      )}
    </>
  )
}

function RecoverySheetCard({ sheet }: { sheet: RecoverySheet }) {
  const text = `medvault recovery sheet for ${sheet.person}\n\nKeep this sheet safe and private. If the person who gave it to you loses access to their medical vault, they will ask you for it.\n\n${sheet.sheet}\n`
  const url = useMemo(() => URL.createObjectURL(new Blob([text], { type: 'text/plain' })), [text])
  useEffect(() => () => URL.revokeObjectURL(url), [url])
  return (
    <article className="sheet" aria-label={`Recovery sheet for ${sheet.person}`}>
      <h4>Recovery sheet for {sheet.person}</h4>
      <p className="sheet-text">
        <code>{sheet.sheet}</code>
      </p>
      <a className="button secondary" href={url} download={`medvault-recovery-sheet-${sheet.person.replace(/[^\p{L}\p{N}]+/gu, '-')}.txt`}>
        Save the sheet for {sheet.person}
      </a>
    </article>
  )
}
