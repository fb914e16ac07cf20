import { type FormEvent, useState } from 'react'
import { ErrorMessage, Link } from '../components.js'
import {
  type BrowserAccount,
  type KeystoreFile,
  createKeystore,
  forgetKeystore,
  parseKeystore,
  rememberKeystore,
  rememberedKeystores,
  unlockKeystore,
} from '../lib/keystore.js'
import {
  type PasskeyVault,
  createPasskeyVault,
  forgetPasskeyVault,
  passkeysAvailable,
  rememberPasskeyVault,
  rememberedPasskeyVaults,
  unlockPasskeyVault,
} from '../lib/passkey.js'

type Mode = 'open' | 'create' | 'file'

/** Makes a new vault in this browser: the person's name (for this device only) and a passphrase typed twice. */
function CreateVault({ onCreated, onCancel }: { onCreated: (account: BrowserAccount) => Promise<void>; onCancel: () => void }) {
  const [name, setName] = useState('')
  const [passphrase, setPassphrase] = useState('')
  const [again, setAgain] = useState('')
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<unknown>()
  const [lock, setLock] = useState<'passphrase' | 'passkey'>('passphrase')
  const offerPasskey = passkeysAvailable()

  async function submit(e: FormEvent) {
    e.preventDefault()
    setError(undefined)
    if (lock === 'passkey') {
      setBusy('Follow your browser: it asks for your fingerprint, face or screen lock…')
      try {
        const { vault, account } = await createPasskeyVault(name)
        rememberPasskeyVault(vault)
        setBusy('Opening your vault…')
        await onCreated(account)
      } catch (err) {
        // No PRF on this browser or passkey: the passphrase is the way.
        setLock('passphrase')
        setError(err)
        setBusy(undefined)
      }
      return
    }
    if (passphrase !== again) return setError(new Error('The two passphrases differ. Type the same one twice.'))
    setBusy('Making your vault in this browser (this takes a few seconds)…')
    try {
      const { file, account } = await createKeystore(name, passphrase)
      rememberKeystore(file)
      setPassphrase('')
      setAgain('')
      setBusy('Opening your vault…')
      await onCreated(account)
    } catch (err) {
      setError(err)
      setBusy(undefined)
    }
  }

  return (
    <form onSubmit={submit}>
      <h2>Create my vault</h2>
      <p className="help">
        Your vault is made here, in this browser.{' '}
        {lock === 'passkey'
          ? 'It is locked with a passkey: only your fingerprint, face or screen lock on this device opens it. Nobody, not even the people running this service, can open it for you.'
          : 'It is locked with a passphrase that only you know: nobody, not even the people running this service, can open it or reset the passphrase for you.'}
      </p>
      <div className="field">
        <label htmlFor="new-name">Your first name</label>
        <input id="new-name" autoComplete="given-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <p className="help">Shown only on this device, to greet you.</p>
      </div>
      {offerPasskey && (
        <fieldset className="lock">
          <legend>Lock it with</legend>
          <label className="choice">
            <input type="radio" name="lock" value="passphrase" checked={lock === 'passphrase'} onChange={() => setLock('passphrase')} />A
            passphrase I choose
          </label>
          <label className="choice">
            <input type="radio" name="lock" value="passkey" checked={lock === 'passkey'} onChange={() => setLock('passkey')} />A passkey: my
            fingerprint, face or screen lock on this device
          </label>
        </fieldset>
      )}
      {lock === 'passphrase' && (
        <>
          <div className="field">
            <label htmlFor="new-passphrase">Choose a passphrase</label>
            <input
              id="new-passphrase"
              type="password"
              autoComplete="new-password"
              minLength={8}
              required
              aria-describedby="new-passphrase-help"
              value={passphrase}
              onChange={(e) => setPassphrase(e.target.value)}
            />
            <p id="new-passphrase-help" className="help">
              At least 8 characters. Four unrelated words are easy to remember and hard to guess, for example “lamp river orange seven”.
            </p>
          </div>
          <div className="field">
            <label htmlFor="new-again">Type it again</label>
            <input
              id="new-again"
              type="password"
              autoComplete="new-password"
              required
              value={again}
              onChange={(e) => setAgain(e.target.value)}
            />
          </div>
        </>
      )}
      <ErrorMessage error={error} />
      {busy && (
        <p className="message" role="status" aria-live="polite">
          {busy}
        </p>
      )}
      <button type="submit" disabled={busy !== undefined}>
        {lock === 'passkey' ? 'Create my vault with a passkey' : 'Create my vault'}
      </button>
      <button type="button" className="link" onClick={onCancel}>
        Back
      </button>
    </form>
  )
}

export function SignIn({ onSignedIn }: { onSignedIn: (account: BrowserAccount, created?: boolean) => Promise<void> }) {
  const [remembered, setRemembered] = useState(rememberedKeystores)
  const [passkeyVaults, setPasskeyVaults] = useState(rememberedPasskeyVaults)
  const [mode, setMode] = useState<Mode>(remembered.length > 0 ? 'open' : 'file')
  const [creating, setCreating] = useState(false)
  const [choice, setChoice] = useState<string | undefined>(remembered.at(-1)?.address)
  const [file, setFile] = useState<KeystoreFile>()
  const [passphrase, setPassphrase] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()

  async function submit(e: FormEvent) {
    e.preventDefault()
    setError(undefined)
    const keystore = mode === 'file' ? file : remembered.find((f) => f.address === choice)
    if (!keystore) {
      setError(new Error(mode === 'file' ? 'Choose your account file first.' : 'Choose your vault first.'))
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

  async function openWithPasskey(vault: PasskeyVault) {
    setError(undefined)
    setBusy(true)
    try {
      await onSignedIn(await unlockPasskeyVault(vault))
    } catch (err) {
      setError(err)
      setBusy(false)
    }
  }

  const chosen = remembered.find((f) => f.address === choice)
  const passkeyOnly = remembered.length === 0 && passkeyVaults.length > 0
  return (
    <main className="signin" id="main">
      <div className="card">
        <h1>
          {creating
            ? 'Your health records, kept by you'
            : mode === 'open' && chosen
              ? `Welcome back, ${chosen.name}`
              : passkeyOnly
                ? `Welcome back, ${passkeyVaults.at(-1)!.name}`
                : 'Your health records, kept by you'}
        </h1>
        {creating ? (
          <CreateVault onCreated={(account) => onSignedIn(account, true)} onCancel={() => setCreating(false)} />
        ) : (
          <>
            {passkeyVaults.length > 0 && (
              <section aria-labelledby="passkey-h" className="start">
                <h2 id="passkey-h">Open your vault with your passkey</h2>
                {passkeyVaults.map((vault) => (
                  <p key={vault.address}>
                    <button type="button" disabled={busy} onClick={() => openWithPasskey(vault)}>
                      {busy ? 'Opening…' : `Open ${vault.name}’s vault with my passkey`}
                    </button>{' '}
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        forgetPasskeyVault(vault.address)
                        setPasskeyVaults(rememberedPasskeyVaults())
                      }}
                    >
                      Forget {vault.name}’s vault on this browser
                    </button>
                  </p>
                ))}
              </section>
            )}
            {remembered.length === 0 && passkeyVaults.length === 0 && (
              <section aria-labelledby="new-h" className="start">
                <h2 id="new-h">New here?</h2>
                <p>Make your own vault in a minute. No file, no app to install.</p>
                <button type="button" onClick={() => setCreating(true)}>
                  Create my vault
                </button>
              </section>
            )}
            <form onSubmit={submit}>
              {mode === 'open' ? (
                <>
                  <p className="lead">Type your passphrase to open your vault.</p>
                  {remembered.length > 1 && (
                    <fieldset>
                      <legend>Vault</legend>
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
                    </fieldset>
                  )}
                </>
              ) : (
                <>
                  <h2>{remembered.length === 0 && !passkeyOnly ? 'Already have a vault?' : 'Open a vault from its file'}</h2>
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
                      Your recovery kit, or the file the medvault program keeps for you (for example{' '}
                      <code>~/.medvault/accounts/alice.json</code>).
                    </p>
                    {file && <p className="help">Account “{file.name}” found.</p>}
                  </div>
                </>
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
                {busy ? 'Opening…' : 'Sign in'}
              </button>
            </form>
            {passkeyOnly && (
              <p className="other-ways">
                <button type="button" className="link" onClick={() => setCreating(true)}>
                  Create a new vault
                </button>
              </p>
            )}
            {remembered.length > 0 && (
              <p className="other-ways">
                {mode === 'open' ? (
                  <button type="button" className="link" onClick={() => setMode('file')}>
                    Open another vault from its file
                  </button>
                ) : (
                  <button type="button" className="link" onClick={() => setMode('open')}>
                    Back to my vault on this device
                  </button>
                )}{' '}
                ·{' '}
                <button type="button" className="link" onClick={() => setCreating(true)}>
                  Create a new vault
                </button>
                {mode === 'open' && choice && (
                  <>
                    {' '}
                    ·{' '}
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        forgetKeystore(choice)
                        const rest = rememberedKeystores()
                        setRemembered(rest)
                        setChoice(rest.at(-1)?.address)
                        if (rest.length === 0) setMode('file')
                      }}
                    >
                      Forget this vault on this browser
                    </button>
                  </>
                )}
              </p>
            )}
          </>
        )}
      </div>
      <p className="help">
        Checking a health card or a proof of treatment? <Link to="/verify">Verify it here, no account needed</Link>.
      </p>
    </main>
  )
}
