import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Resource } from '@medplum/fhirtypes'
import { studyPseudonym } from '../../src/research/deid/index.js'
import { medvault } from '../integration/cli.js'
import { MARIA, richPatientBundle } from './deidFixtures.js'
import { collectIdentifiers, leaks, outputStrings } from './identifierSearch.js'

describe('medvault deid', () => {
  let dir: string
  let home: string
  let bundleFile: string
  let keyFile: string
  const key = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
  const bundle = richPatientBundle(MARIA)

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medvault-deid-'))
    // A home that does not exist: deid needs no chain, no keystore, no storage.
    home = join(dir, 'no-home')
    bundleFile = join(dir, 'maria.json')
    keyFile = join(dir, 'key.hex')
    await writeFile(bundleFile, JSON.stringify(bundle))
    await writeFile(keyFile, `${Buffer.from(key).toString('hex')}\n`)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('writes the de-identified NDJSON and summarises what was removed, without a home or chain', async () => {
    const out = join(dir, 'maria.ndjson')
    const r = await medvault(home, ['deid', bundleFile, '--out', out, '--study', 'study-9', '--key-file', keyFile, '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json.pseudonym, studyPseudonym(key, 'study-9'))
    assert.equal(r.json.resourcesIn, bundle.entry?.length)
    assert.equal(r.json.resourcesOut, (bundle.entry?.length ?? 0) - 1)
    assert.ok(r.json.removed.ssn >= 1 && r.json.removed.name >= 1 && r.json.removed.date > 10, JSON.stringify(r.json.removed))
    assert.deepEqual(r.json.kAnonymity.violating, [{ birthYear: '1961', sex: 'female', zip3: '011', count: 1 }])
    assert.equal(existsSync(home), false)

    const text = await readFile(out, 'utf8')
    const resources = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Resource)
    assert.equal(resources.length, r.json.resourcesOut)
    assert.equal((await stat(out)).mode & 0o777, 0o600)
    const identifiers = collectIdentifiers(bundle)
    assert.ok(identifiers.size > 120)
    assert.deepEqual(leaks(identifiers, text, outputStrings(resources)), [])
    // Nothing identifying on the terminal either (the summary names kinds, such as "phone", which the input holds as codes).
    const kinds = new Set(Object.keys(r.json.removed))
    assert.deepEqual(
      leaks(
        [...identifiers].filter((v) => !kinds.has(v)),
        r.stdout + r.stderr,
        [],
      ),
      [],
    )

    // The same key and study give the same file; without a key, a random one (other pseudonyms).
    const again = join(dir, 'again.ndjson')
    assert.equal((await medvault(home, ['deid', bundleFile, '--out', again, '--study', 'study-9', '--key-file', keyFile])).code, 0)
    assert.equal(await readFile(again, 'utf8'), text)
    const random = await medvault(home, ['deid', bundleFile, '--out', again, '--study', 'study-9', '--json'])
    assert.equal(random.code, 0)
    assert.notEqual(random.json.pseudonym, r.json.pseudonym)
  })

  it('prints a summary for people', async () => {
    const r = await medvault(home, ['deid', bundleFile, '--out', join(dir, 'human.ndjson'), '--k', '1'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stdout,
      new RegExp(`Wrote ${(bundle.entry?.length ?? 0) - 1} de-identified resource\\(s\\) of ${bundle.entry?.length} to .*human\\.ndjson`),
    )
    assert.match(r.stdout, /ssn: 1/)
    assert.match(r.stdout, /1-anonymous/)
  })

  it('refuses bad input with a message that names no value, and writes nothing', async () => {
    const bad = join(dir, 'bad.json')
    await writeFile(
      bad,
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [{ resource: { resourceType: 'Patient', birthDate: 'Mariquita' } }],
      }),
    )
    const out = join(dir, 'bad.ndjson')
    const r = await medvault(home, ['deid', bad, '--out', out, '--json'])
    assert.equal(r.code, 2)
    assert.equal(r.json.error.code, 'INVALID_INPUT')
    assert.match(r.json.error.message, /birthDate/)
    assert.doesNotMatch(r.stdout, /Mariquita/)
    assert.equal(existsSync(out), false)

    const missing = await medvault(home, ['deid', join(dir, 'nope.json'), '--out', out])
    assert.equal(missing.code, 5)
    assert.match(missing.stderr, /does not exist/)
    const badKey = join(dir, 'short.hex')
    await writeFile(badKey, 'abcd')
    assert.equal((await medvault(home, ['deid', bundleFile, '--out', out, '--key-file', badKey])).code, 2)
    assert.equal((await medvault(home, ['deid', bundleFile, '--out', out, '--k', '0'])).code, 2)
    assert.equal(existsSync(out), false)
  })
})
