import { createContext, useContext } from 'react'
import type { Api, Me } from './lib/api.js'
import type { Chainside } from './lib/chain.js'

export type Session = {
  api: Api
  chain: Chainside
  me: Me
  /** Registered provider names by lower-case address. */
  names: Map<string, string>
  /** What pages opened this session (decrypted facts, checks), so coming back is instant; dropped at sign-out. */
  memory: Map<string, unknown>
}

export const SessionContext = createContext<Session | undefined>(undefined)

export function useSession(): Session {
  const session = useContext(SessionContext)
  if (!session) throw new Error('useSession outside a signed-in page')
  return session
}
