/**
 * Searching files for needles (identifiers, key bytes), with the encodings of chainScan.ts: every
 * file under a directory, each as bytes (raw, UTF-16, base64 at any alignment, hex text, hashes)
 * and, for text files, as text. Findings name the file and the offset, never the bytes around it.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { type Finding, type Haystack, type Needle, type Pattern, patternsFor, scanHex, scanText } from './chainScan.js'

/** Every regular file under `dir` (recursively), absolute paths, sorted; `exclude` are paths or folders to leave out. */
export function filesUnder(dir: string, options: { exclude?: string[] } = {}): string[] {
  const root = resolve(dir)
  const excluded = (options.exclude ?? []).map((p) => resolve(p))
  const isExcluded = (path: string) => excluded.some((e) => path === e || path.startsWith(`${e}/`))
  const out: string[] = []
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name)
      if (isExcluded(path)) continue
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile()) out.push(path)
    }
  }
  walk(root)
  return out.sort()
}

/** A file as a hex haystack named by its path relative to `base`. */
export function fileHaystack(file: string, base: string, label = ''): Haystack {
  return { where: `${label}${relative(base, file)}`, hex: readFileSync(file).toString('hex') }
}

export type FileScan = { findings: Finding[]; files: number; bytes: number }

/**
 * Scans files for the needles: every pattern of every needle in the raw bytes, each string needle
 * in any case in the bytes read as text, and base64 fragments in the text. `label` prefixes the
 * places reported (e.g. `home:`).
 */
export function scanFiles(
  files: string[],
  base: string,
  needles: Needle[],
  options: { label?: string; patterns?: Pattern[] } = {},
): FileScan {
  const patterns = options.patterns ?? patternsFor(needles)
  const findings: Finding[] = []
  let bytes = 0
  for (const file of files) {
    const size = statSync(file).size
    bytes += size
    const haystack = fileHaystack(file, base, options.label)
    findings.push(...scanHex([haystack], patterns, needles))
    findings.push(...scanText([{ where: haystack.where, text: readFileSync(file).toString('latin1') }], needles))
  }
  return { findings: dedupe(findings), files: files.length, bytes }
}

/** One finding per needle, encoding, place and offset (the text and byte scans can report the same hit). */
export function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>()
  return findings.filter((f) => {
    const key = `${f.needle}\0${f.where}\0${f.byteOffset}\0${f.encoding}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
