import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

/**
 * The medvault package's own folder (where package.json, examples/ and dist/ are). Found by
 * walking up from this module, because the module runs from src/ under tsx, from dist/ after
 * tsc, and from the CLI bundle in dist/cli-bundle/, each at a different depth.
 */
export function packageRoot(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'medvault') {
      cached = dir
      return dir
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('medvault cannot find its own package folder (package.json named "medvault") above its code.')
    dir = parent
  }
}
