/** Small shared pieces: icons, badges, links, messages. */
import type { ReactNode } from 'react'
import { navigate } from './lib/router.js'

const ICON_PATHS: Record<string, string> = {
  // A flask.
  laboratory: 'M9 3h6M10 3v6l-5 9a2 2 0 0 0 2 3h10a2 2 0 0 0 2-3l-5-9V3M7.5 14h9',
  // A syringe.
  immunization: 'M18 2l4 4M20 4l-9.5 9.5M14 6l4 4M9 11l4 4M4 20l3-3M6.5 13.5l4 4L17 11l-4-4z',
  // A page with lines.
  'clinical-note': 'M6 2h9l5 5v15H6zM14 2v6h6M9 13h8M9 17h8',
  // A picture.
  imaging: 'M3 4h18v16H3zM3 16l5-5 4 4 3-3 6 6M15.5 9a1.5 1.5 0 1 0 0-.01',
  // A pill.
  medication: 'M10.5 3.5a5 5 0 0 1 7 7l-7 7a5 5 0 0 1-7-7zM7 7l7 7',
  // A heart with a line.
  'mental-health': 'M12 20s-7-4.5-7-10a4 4 0 0 1 7-2.5A4 4 0 0 1 19 10c0 5.5-7 10-7 10zM8 11h2l1-2 2 4 1-2h2',
  'substance-use': 'M12 3v18M5 8h14M7 21h10',
  'sexual-health': 'M12 21s-8-5-8-11a4 4 0 0 1 8-1 4 4 0 0 1 8 1c0 6-8 11-8 11z',
  // A double helix.
  genetic: 'M7 3c0 6 10 6 10 12s-10 3-10 6M17 3c0 6-10 6-10 12M9 6h6M9 18h6',
  other: 'M6 2h9l5 5v15H6zM14 2v6h6',
}

export function CategoryIcon({ category }: { category: string }) {
  return (
    <span className={`icon icon-${category}`} aria-hidden="true">
      <svg
        aria-hidden="true"
        viewBox="0 0 24 24"
        width="24"
        height="24"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.8"
        strokeLinecap="round"
        strokeLinejoin="round"
      >
        <path d={ICON_PATHS[category] ?? ICON_PATHS.other} />
      </svg>
    </span>
  )
}

export type Verification = 'checking' | 'verified' | 'failed' | 'unknown'

export function VerifiedBadge({ state, detail }: { state: Verification; detail?: string | undefined }) {
  if (state === 'verified') return <span className="badge badge-ok">✓ Verified</span>
  if (state === 'failed')
    return (
      <span className="badge badge-bad" role="alert">
        ⚠ Could not be verified{detail ? `: ${detail}` : ''}
      </span>
    )
  if (state === 'checking') return <span className="badge badge-neutral">Checking…</span>
  return <span className="badge badge-neutral">Open to check</span>
}

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  return (
    <a
      href={to}
      className={className}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return
        e.preventDefault()
        navigate(to)
      }}
    >
      {children}
    </a>
  )
}

export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null
  return (
    <p className="message message-error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </p>
  )
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="message" role="status" aria-live="polite">
      Loading {what}…
    </p>
  )
}
