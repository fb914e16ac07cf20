/**
 * Reading a PDF in tests: `pdftotext` (poppler-utils) when it is installed, and always a minimal
 * parser of our own that checks the file's structure (header, cross-reference table, trailer,
 * page tree) and pulls the text out of the content streams (FlateDecode, Tj/TJ strings).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inflateSync } from 'node:zlib'

export type PdfStructure = { version: string; objects: number; pages: number; text: string }

/** Checks the structure and extracts the text; throws on anything malformed. */
export function parsePdf(pdf: Buffer): PdfStructure {
  const head = pdf.subarray(0, 8).toString('latin1')
  const version = /^%PDF-(\d\.\d)/.exec(head)?.[1]
  if (!version) throw new Error('no %PDF- header')
  const tail = pdf.subarray(Math.max(0, pdf.length - 64)).toString('latin1')
  const start = /startxref\s+(\d+)\s+%%EOF\s*$/.exec(tail)
  if (!start) throw new Error('no startxref / %%EOF at the end')
  const xrefAt = Number(start[1])
  const latin = pdf.toString('latin1')
  if (latin.slice(xrefAt, xrefAt + 4) !== 'xref') throw new Error('startxref does not point at the xref table')
  const section = /^xref\s+(\d+)\s+(\d+)\s/.exec(latin.slice(xrefAt))
  if (!section) throw new Error('malformed xref table')
  const count = Number(section[2])
  const trailerSize = /trailer\s*<<[\s\S]*?\/Size (\d+)/.exec(latin.slice(xrefAt))?.[1]
  if (Number(trailerSize) !== count) throw new Error(`xref has ${count} entries, the trailer says ${trailerSize}`)
  // Every in-use entry points at "N 0 obj".
  const entries = latin
    .slice(xrefAt)
    .split('\n')
    .slice(2, 2 + count)
  entries.forEach((line, n) => {
    const [offset, , kind] = line.trim().split(' ')
    if (kind === 'n' && !latin.startsWith(`${n} 0 obj`, Number(offset))) throw new Error(`xref entry ${n} does not point at its object`)
  })
  const pages = [...latin.matchAll(/\/Type \/Page\b(?!s)/g)].length
  const declared = Number(/\/Type \/Pages[\s\S]*?\/Count (\d+)/.exec(latin)?.[1])
  if (pages === 0 || pages !== declared) throw new Error(`${pages} page objects, the page tree says ${declared}`)

  const texts: string[] = []
  for (const m of latin.matchAll(/<<([\s\S]*?)>>\s*stream\r?\n/g)) {
    const length = Number(/\/Length (\d+)/.exec(m[1]!)?.[1])
    const from = m.index! + m[0].length
    let body = pdf.subarray(from, from + length)
    if (/\/Filter \/FlateDecode/.test(m[1]!)) {
      try {
        body = inflateSync(body)
      } catch {
        continue // fonts and images may use other filters
      }
    }
    texts.push(textOperators(body.toString('latin1')))
  }
  return { version, objects: count, pages, text: texts.join('\n') }
}

/** The strings shown by Tj and TJ in a content stream, one line per operator. */
function textOperators(content: string): string {
  const lines: string[] = []
  for (const m of content.matchAll(/(\[(?:[^\]\\]|\\.)*\]|<[0-9a-fA-F\s]*>|\((?:[^)\\]|\\.)*\))\s*(TJ|Tj)/g)) {
    const operand = m[1]!
    const parts = operand.startsWith('[') ? [...operand.matchAll(/<[0-9a-fA-F\s]*>|\((?:[^)\\]|\\.)*\)/g)].map((p) => p[0]) : [operand]
    lines.push(parts.map(decodeString).join(''))
  }
  return lines.join('\n')
}

function decodeString(s: string): string {
  if (s.startsWith('<')) return Buffer.from(s.slice(1, -1).replace(/\s/g, ''), 'hex').toString('latin1')
  return s.slice(1, -1).replace(/\\([()\\])/g, '$1')
}

/** The text as `pdftotext -layout` reads it, or undefined when poppler-utils is not installed. */
export function pdftotext(pdf: Buffer): string | undefined {
  if (spawnSync('pdftotext', ['-v']).error) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'medvault-pdf-'))
  try {
    const file = join(dir, 'report.pdf')
    writeFileSync(file, pdf)
    const result = spawnSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' })
    if (result.status !== 0) throw new Error(`pdftotext failed: ${result.stderr}`)
    return result.stdout
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
