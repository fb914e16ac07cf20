import { type FormEvent, useState } from 'react'
import { ErrorMessage, Link } from '../components.js'
import {
  type BrowserAccount,
  type KeystoreFile,
  forgetKeystore,
  parseKeystore,
  rememberKeystore,
  rememberedKeystores,
  unlockKeystore,
} from '../lib/keystore.js'

export function SignIn({ onSignedIn }: { onSignedIn: (account: BrowserAccount) => Promise<void> }) {
  const [remembered, setRemembered] = useState(rememberedKeystores)
  const [choice, setChoice] = useState<string>(remembered[0]?.address ?? 'import')
  const [file, setFile] = useState<KeystoreFile>()
  const [passphrase, setPassphrase] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()

  async function submit(e: FormEvent) {
    e.preventDefault()
    setError(undefined)
    const keystore = choice === 'import' ? file : remembered.find((f) => f.address === choice)
    if (!keystore) {
      setError(new Error('Choose your account file first.'))
      return
    }
    setBusy(true)
    try {
      const account = await unlockKeystore(keystore, passphrase)
      rememberKeystore(keystore)
      setPassphrase('')
      await onSignedIn(account)
    } catch (err) {
      setError(err)
      setBusy(false)
    }
  }

  return (
    <main className="signin" id="main">
      <div className="card">
        <h1>Sign in to medvault</h1>
        <p className="lead">Your health records, kept by you. Your vault stays in this browser, locked with your passphrase.</p>
        <form onSubmit={submit}>
          {remembered.length > 0 && (
            <fieldset>
              <legend>Account</legend>
              {remembered.map((f) => (
                <label key={f.address} className="choice">
                  <input
                    type="radio"
                    name="account"
                    value={f.address}
                    checked={choice === f.address}
                    onChange={() => setChoice(f.address)}
                  />
                  {f.name}
                </label>
              ))}
              <label className="choice">
                <input type="radio" name="account" value="import" checked={choice === 'import'} onChange={() => setChoice('import')} />
                Another account
              </label>
            </fieldset>
          )}
          {choice === 'import' && (
            <div className="field">
              <label htmlFor="keystore">Account file</label>
              <input
                id="keystore"
                type="file"
                accept="application/json,.json"
                aria-describedby="keystore-help"
                onChange={async (e) => {
                  setError(undefined)
                  const picked = e.target.files?.[0]
                  if (!picked) return
                  try {
                    setFile(parseKeystore(await picked.text()))
                  } catch (err) {
                    setFile(undefined)
                    setError(err)
                  }
                }}
              />
              <p id="keystore-help" className="help">
                The file named after your account in your medvault folder's <code>accounts</code> folder (for example{' '}
                <code>~/.medvault/accounts/alice.json</code>).
              </p>
              {file && <p className="help">Account “{file.name}” found.</p>}
            </div>
          )}
          <div className="field">
            <label htmlFor="passphrase">Passphrase</label>
            <input
              id="passphrase"
              type="password"
              autoComplete="current-password"
              required
              value={passphrase}
              onChange={(e) => setPassphrase(e.target.value)}
            />
          </div>
          <ErrorMessage error={error} />
          <button type="submit" disabled={busy}>
            {busy ? 'Unlocking…' : 'Sign in'}
          </button>
          {choice !== 'import' && (
            <button
              type="button"
              className="link"
              onClick={() => {
                forgetKeystore(choice)
                const rest = rememberedKeystores()
                setRemembered(rest)
                setChoice(rest[0]?.address ?? 'import')
              }}
            >
              Forget this account on this browser
            </button>
          )}
        </form>
      </div>
      <p className="help">
        Checking a health card or a proof of treatment? <Link to="/verify">Verify it here, no account needed</Link>.
      </p>
    </main>
  )
}
