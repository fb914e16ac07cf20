/**
 * Keeps src/'s structure as scripts/architecture/layers.ts defines it: no import cycle between
 * folders, no import from a lower layer up, no import into another folder's insides (only through
 * its index.ts), every folder in a layer with an index.ts; and docs/architecture.md's diagram is
 * the one generated from the layer definition. The checker itself is tested on small graphs, so
 * a checker that reports nothing cannot pass for a clean tree.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { layerDiagram } from '../scripts/architecture/diagram.js'
import {
  type ImportEdge,
  type Violation,
  checkImportGraph,
  describeViolation,
  readImportGraph,
} from '../scripts/architecture/importGraph.js'
import { LAYERS, type Layer } from '../scripts/architecture/layers.js'

const SRC = fileURLToPath(new URL('../src', import.meta.url))
const DOC = fileURLToPath(new URL('../docs/architecture.md', import.meta.url))
const srcFolders = readdirSync(SRC, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort()

describe('src/ import graph', () => {
  it('has no cycle, no upward import, no deep import, and every folder is layered with an index.ts', () => {
    const graph = readImportGraph(SRC)
    assert.ok(graph.edges.length > 500, `read only ${graph.edges.length} imports: the reader is broken`)
    const violations = checkImportGraph(graph, LAYERS)
    assert.deepEqual(violations.map(describeViolation), [])
  })

  it('every src folder is in exactly one layer', () => {
    const layered = LAYERS.flatMap((l) => l.folders)
    assert.deepEqual([...layered].sort(), srcFolders)
    assert.equal(new Set(layered).size, layered.length, 'a folder is in two layers')
  })
})

describe('the import-graph check', () => {
  const layers: Layer[] = [
    { name: 'low', rank: 0, folders: ['a', 'b'], description: '' },
    { name: 'high', rank: 1, folders: ['c'], description: '' },
  ]
  const modules = ['a/index.ts', 'a/x.ts', 'b/index.ts', 'b/y.ts', 'c/index.ts', 'c/z.ts']
  const check = (edges: ImportEdge[]) => checkImportGraph({ modules, edges }, layers)
  const rules = (v: Violation[]) => v.map((x) => x.rule).sort()

  it('passes a clean graph', () => {
    assert.deepEqual(
      check([
        { from: 'c/z.ts', to: 'a/index.ts' },
        { from: 'a/x.ts', to: 'b/index.ts' },
        { from: 'a/x.ts', to: 'a/index.ts' },
      ]),
      [],
    )
  })

  it('reports a cycle between folders', () => {
    const v = check([
      { from: 'a/x.ts', to: 'b/index.ts' },
      { from: 'b/y.ts', to: 'a/index.ts' },
    ])
    assert.deepEqual(rules(v), ['cycle'])
    assert.deepEqual(v[0]?.rule === 'cycle' && v[0].folders, ['a', 'b'])
  })

  it('reports an import from a lower layer up', () => {
    const v = check([{ from: 'a/x.ts', to: 'c/index.ts' }])
    assert.deepEqual(rules(v), ['upward'])
    assert.match(describeViolation(v[0]!), /layer "low" must not depend on the higher layer "high"/)
  })

  it("reports a deep import into another folder's insides", () => {
    const v = check([{ from: 'c/z.ts', to: 'a/x.ts' }])
    assert.deepEqual(rules(v), ['deep'])
    assert.match(describeViolation(v[0]!), /import from a\/index.ts instead/)
  })

  it('reports a folder without a layer or without an index.ts', () => {
    const v = checkImportGraph({ modules: [...modules, 'd/w.ts'], edges: [] }, layers)
    assert.deepEqual(rules(v), ['no-entry', 'unlayered'])
  })
})

describe('docs/architecture.md', () => {
  const doc = readFileSync(DOC, 'utf8')
  it('holds the layer diagram generated from scripts/architecture/layers.ts', () => {
    assert.ok(doc.includes(layerDiagram()), 'the diagram is stale: paste the output of `npx tsx scripts/architecture/diagram.ts`')
  })
  it('names every src folder', () => {
    for (const folder of srcFolders) assert.ok(doc.includes(`"${folder}/"`), `docs/architecture.md does not name src/${folder}`)
  })
})
