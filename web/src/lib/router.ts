/** A small client-side router: paths in the address bar, links that do not reload the page. */
import { useEffect, useState } from 'react'

export function navigate(path: string) {
  if (path === location.pathname + location.search) return
  history.pushState(null, '', path)
  dispatchEvent(new PopStateEvent('popstate'))
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname)
  useEffect(() => {
    const update = () => setPath(location.pathname)
    addEventListener('popstate', update)
    return () => removeEventListener('popstate', update)
  }, [])
  return path
}
