/**
 * Serves the built web portal (`dist/web`) at `/`: its files, and `index.html` for any other page
 * a browser asks for (the app routes on the client). API paths keep their own answers, including
 * their 404 OperationOutcomes: the fallback is only for requests that accept HTML.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { extname, join, normalize, sep } from 'node:path'
import type { OpenAPIHono } from '@hono/zod-openapi'
import { packageRoot } from '../core/index.js'
import type { ServerEnv } from './context.js'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
}

const RESERVED = ['/api/', '/auth/', '/fhir', '/openapi.json', '/health']

/** The built portal shipped with this package, if it was built. */
export function defaultWebRoot(): string | undefined {
  const root = join(packageRoot(), 'dist', 'web')
  return existsSync(join(root, 'index.html')) ? root : undefined
}

export function staticWebRoutes(app: OpenAPIHono<ServerEnv>, root: string) {
  const index = join(root, 'index.html')
  app.on(['GET', 'HEAD'], '*', (c) => {
    const path = decodeURIComponent(new URL(c.req.url).pathname)
    if (RESERVED.some((p) => path === p || path.startsWith(p))) return c.notFound()
    const file = normalize(join(root, path))
    if (file.startsWith(root + sep) && existsSync(file) && statSync(file).isFile()) {
      const hashed = path.startsWith('/assets/')
      return c.body(readFileSync(file), 200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        // Built assets carry a content hash in their names and no health data; pages are never cached.
        'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-store',
      })
    }
    if (!(c.req.header('accept') ?? '').includes('text/html') || !existsSync(index)) return c.notFound()
    return c.body(readFileSync(index), 200, { 'content-type': TYPES['.html']! })
  })
}
