/**
 * Checks the relative links of Markdown pages: each must name a file that exists and, with a
 * `#fragment`, a heading of that file (GitHub's slugs). marked tokenises the Markdown and
 * github-slugger makes the slugs, so code spans and fenced blocks are never taken for links.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import GithubSlugger from 'github-slugger'
import { type Token, type Tokens, lexer } from 'marked'

export interface BrokenLink {
  page: string
  href: string
  reason: string
}

function walk(tokens: readonly Token[], visit: (t: Token) => void): void {
  for (const t of tokens) {
    visit(t)
    const children = (t as { tokens?: Token[] }).tokens
    if (children) walk(children, visit)
    if (t.type === 'list') for (const item of (t as Tokens.List).items) walk(item.tokens, visit)
    if (t.type === 'table') {
      const table = t as Tokens.Table
      for (const cell of [...table.header, ...table.rows.flat()]) walk(cell.tokens, visit)
    }
  }
}

/** Every link and image target in a Markdown text. */
export function linkTargets(markdown: string): string[] {
  const targets: string[] = []
  walk(lexer(markdown), (t) => {
    if (t.type === 'link' || t.type === 'image') targets.push((t as Tokens.Link).href)
  })
  return targets
}

/** The anchors GitHub gives the headings of a Markdown text. */
export function headingAnchors(markdown: string): Set<string> {
  const slugger = new GithubSlugger()
  const anchors = new Set<string>()
  walk(lexer(markdown), (t) => {
    if (t.type === 'heading') anchors.add(slugger.slug((t as Tokens.Heading).text.replace(/`/g, '')))
  })
  return anchors
}

const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i

/** The relative links of `pages` (paths) that do not resolve. */
export function brokenLinks(pages: readonly string[]): BrokenLink[] {
  const broken: BrokenLink[] = []
  for (const page of pages) {
    for (const href of linkTargets(readFileSync(page, 'utf8'))) {
      if (EXTERNAL.test(href)) continue
      const [path = '', fragment] = href.split('#', 2)
      const target = path === '' ? page : resolve(dirname(page), decodeURIComponent(path))
      if (!existsSync(target)) {
        broken.push({ page, href, reason: 'no such file' })
        continue
      }
      if (fragment && statSync(target).isFile() && target.endsWith('.md')) {
        if (!headingAnchors(readFileSync(target, 'utf8')).has(fragment)) {
          broken.push({ page, href, reason: `no heading #${fragment}` })
        }
      }
    }
  }
  return broken
}

/** README.md and every Markdown page under docs/. */
export function projectPages(root: string): string[] {
  const docs = join(root, 'docs')
  const pages = readdirSync(docs).filter((f) => f.endsWith('.md'))
  return [join(root, 'README.md'), ...pages.map((f) => join(docs, f))]
}
