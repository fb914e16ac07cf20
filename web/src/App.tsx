import { useState } from 'react'
import { Link } from './components.js'
import { type Me, connect } from './lib/api.js'
import { type WebConfig, chainside } from './lib/chain.js'
import type { BrowserAccount } from './lib/keystore.js'
import { navigate, usePath } from './lib/router.js'
import { Activity } from './pages/Activity.js'
import { Emergency } from './pages/Emergency.js'
import { Provider } from './pages/Provider.js'
import { RecordPage } from './pages/RecordPage.js'
import { Research } from './pages/Research.js'
import { Share } from './pages/Share.js'
import { SignIn } from './pages/SignIn.js'
import { Studies } from './pages/Studies.js'
import { Timeline } from './pages/Timeline.js'
import { Verify } from './pages/Verify.js'
import { Welcome } from './pages/Welcome.js'
import { type Session, SessionContext } from './session.js'

async function openSession(account: BrowserAccount): Promise<Session> {
  const api = await connect(account)
  const [me, config, registry] = await Promise.all([
    api.get<Me>('/api/me'),
    api.get<WebConfig>('/api/web/config'),
    api.get<{ providers: { address: string; name: string }[] }>('/api/providers'),
  ])
  const names = new Map(registry.providers.map((p) => [p.address.toLowerCase(), p.name]))
  return { api, chain: chainside(api, config), me, names, memory: new Map() }
}

function Page({ path }: { path: string }) {
  const record = /^\/records\/(\d+)$/.exec(path)
  if (record) return <RecordPage key={record[1]} tokenId={record[1]!} />
  if (path === '/share') return <Share />
  if (path === '/activity') return <Activity />
  if (path === '/provider') return <Provider />
  if (path === '/emergency') return <Emergency />
  if (path === '/verify') return <Verify />
  if (path === '/studies') return <Studies />
  if (path === '/research') return <Research />
  if (path === '/welcome') return <Welcome />
  return <Timeline />
}

const NAV = [
  { to: '/', label: 'My records' },
  { to: '/share', label: 'Sharing' },
  { to: '/activity', label: 'Activity' },
  { to: '/studies', label: 'Studies' },
]
const PROVIDER_NAV = [
  { to: '/provider', label: 'Provider' },
  { to: '/emergency', label: 'Emergency access' },
]

function Brand() {
  return (
    <div className="brand">
      <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
        <rect width="32" height="32" rx="7" fill="#0b5cab" />
        <path d="M13 7h6v6h6v6h-6v6h-6v-6H7v-6h6z" fill="#fff" />
      </svg>
      <span>medvault</span>
    </div>
  )
}

/** The verifier's page for someone without an account: no sign-in, no session. */
function OpenVerify() {
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Brand />
        <nav aria-label="Main">
          <ul>
            <li>
              <Link to="/">Sign in</Link>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Verify />
      </main>
    </>
  )
}

export function App() {
  const [session, setSession] = useState<Session>()
  const path = usePath()

  if (!session) {
    if (path === '/verify') return <OpenVerify />
    return (
      <SignIn
        onSignedIn={async (account, created) => {
          const s = await openSession(account)
          setSession(s)
          if (created) navigate('/welcome')
          else if (s.me.provider && path === '/') navigate('/provider')
        }}
      />
    )
  }
  const nav = [
    ...NAV,
    ...(session.me.provider ? PROVIDER_NAV : []),
    ...(session.me.researcher ? [{ to: '/research', label: 'Research' }] : []),
    { to: '/verify', label: 'Verify' },
  ]
  const current = (to: string) => (to === '/' ? path === '/' || path.startsWith('/records/') : path === to)
  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Brand />
        <nav aria-label="Main">
          <ul>
            {nav.map((item) => (
              <li key={item.to}>
                <Link to={item.to} className={current(item.to) ? 'active' : ''}>
                  <span aria-current={current(item.to) ? 'page' : undefined}>{item.label}</span>
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span title={session.me.address}>{session.me.provider?.name ?? session.api.account.name}</span>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setSession(undefined)
              navigate('/')
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={path} />
      </main>
    </SessionContext.Provider>
  )
}
