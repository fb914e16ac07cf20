import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CLI_PAGE, cliCommands, renderCliReference, withReference } from '../../scripts/docs/cliReference.js'
import { brokenLinks, projectPages } from './docLinks.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

describe('docs', () => {
  it('every relative link in README.md and docs/ resolves, to a file and to a heading', () => {
    const broken = brokenLinks(projectPages(root))
    assert.deepEqual(
      broken.map((b) => `${b.page.slice(root.length + 1)}: ${b.href} (${b.reason})`),
      [],
    )
  })

  it('the link check finds a missing file, a missing heading, and ignores code and external links', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medvault-docs-'))
    writeFileSync(join(dir, 'other.md'), '# Other\n\n## Real heading\n')
    writeFileSync(
      join(dir, 'page.md'),
      [
        '# Page',
        '[ok](other.md) [ok anchor](other.md#real-heading) [self](#page) [web](https://example.org/x)',
        '[gone](missing.md) [bad anchor](other.md#no-such-heading)',
        '`[not a link](nowhere.md)`',
        '```',
        '[also not](nowhere.md)',
        '```',
        '| a | b |',
        '| --- | --- |',
        '| [in a table](table-missing.md) | x |',
      ].join('\n'),
    )
    const broken = brokenLinks([join(dir, 'page.md')]).map((b) => `${b.href} ${b.reason}`)
    assert.deepEqual(broken, [
      'missing.md no such file',
      'other.md#no-such-heading no heading #no-such-heading',
      'table-missing.md no such file',
    ])
  })

  it('docs/cli.md names every command and every option of the CLI', async () => {
    const reference = readFileSync(CLI_PAGE, 'utf8')
    const commands = await cliCommands()
    assert.ok(commands.length > 40, `expected the whole CLI, found ${commands.length} commands`)
    const missing: string[] = []
    for (const { path, options } of commands) {
      if (!reference.includes(`medvault ${path}`)) missing.push(`medvault ${path}`)
      for (const { long } of options) {
        if (long && !new RegExp(`${long}(?![\\w-])`).test(reference)) missing.push(`medvault ${path} ${long}`)
      }
    }
    for (const global of ['--home', '--json']) if (!reference.includes(global)) missing.push(global)
    assert.deepEqual(missing, [])
  })

  it('the generated reference in docs/cli.md is current (npx tsx scripts/docs/cliReference.ts)', async () => {
    const page = readFileSync(CLI_PAGE, 'utf8')
    assert.equal(page, withReference(page, await renderCliReference()))
  })
})
