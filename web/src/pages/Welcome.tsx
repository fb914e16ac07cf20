/**
 * A new vault's first steps: registering it so providers can send records to it (its encryption
 * key published on chain, signed here; on the embedded development chain the server first funds
 * the empty account for gas, as `medvault account create` does), then a recovery kit.
 */
import { useEffect, useMemo, useState } from 'react'
import { ErrorMessage, Link } from '../components.js'
import { rememberedKeystores } from '../lib/keystore.js'
import { useSession } from '../session.js'

type Registration = { state: 'working' } | { state: 'done' } | { state: 'needs-funds' } | { state: 'failed'; error: unknown }

export function Welcome() {
  const { api, chain, me, memory } = useSession()
  const [registration, setRegistration] = useState<Registration>(
    (memory.get('registration') as Registration | undefined) ?? { state: 'working' },
  )
  const [kitSaved, setKitSaved] = useState(false)
  const file = rememberedKeystores().find((f) => f.address.toLowerCase() === me.address.toLowerCase())

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
        <h3>Or name guardians</h3>
        <p>
          Guardians are two or three people you trust, each with their own vault. If you lose your passphrase, enough of them together can
          move your records to a new vault for you; none of them alone can open your records. Naming guardians is done with the medvault
          program for now (<code>medvault recovery setup</code>); ask the people who run this service to help you.
        </p>
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
            <code>{file?.name}</code>: save the kit as <code>~/.medvault/accounts/{file?.name}.json</code> to use it there.
          </dd>
        </dl>
      </details>
    </>
  )
}
