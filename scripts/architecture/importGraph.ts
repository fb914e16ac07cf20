/**
 * The import graph of src/ between folders, and the three rules it must keep: no cycle between
 * folders, no import from a lower layer up, no import into another folder's insides (only its
 * index.ts). Imports are read with the TypeScript compiler's own pre-processor (`preProcessFile`),
 * which sees `import`, `export ... from` and `import()` alike and needs no type checking.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, posix, relative, sep } from 'node:path'
import ts from 'typescript'
import { type Layer, layerOf } from './layers.js'

/** One import of one module by another, both as paths relative to src/ (posix, with .ts). */
export type ImportEdge = { from: string; to: string }

export type Violation =
  | { rule: 'cycle'; folders: string[]; edges: ImportEdge[] }
  | { rule: 'upward'; edge: ImportEdge; fromLayer: string; toLayer: string }
  | { rule: 'deep'; edge: ImportEdge }
  | { rule: 'unlayered'; folder: string }
  | { rule: 'no-entry'; folder: string }

/** The folder a src module lives in (`records/issueRecord.ts` → `records`); modules at src/'s root belong to the root. */
export function folderOf(module: string): string {
  const i = module.indexOf('/')
  return i < 0 ? '.' : module.slice(0, i)
}

/** Every .ts module under `srcDir` (tests left out: they may reach anywhere), relative and posix. */
export function listModules(srcDir: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const path = join(dir, e.name)
      if (e.isDirectory()) return walk(path)
      return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') ? [path] : []
    })
  return walk(srcDir)
    .map((p) => relative(srcDir, p).split(sep).join('/'))
    .sort()
}

/** The relative imports of every module of `srcDir`, resolved to modules (`./x.js` → `x.ts`). */
export function readImportGraph(srcDir: string): { modules: string[]; edges: ImportEdge[] } {
  const modules = listModules(srcDir)
  const known = new Set(modules)
  const edges: ImportEdge[] = []
  for (const from of modules) {
    const text = readFileSync(join(srcDir, from), 'utf8')
    for (const imported of ts.preProcessFile(text, true, true).importedFiles) {
      const spec = imported.fileName
      if (!spec.startsWith('.')) continue
      const target = posix.normalize(posix.join(posix.dirname(from), spec))
      const to = [target.replace(/\.js$/, '.ts'), `${target}.ts`, `${target}/index.ts`].find((c) => known.has(c))
      if (to && to !== from) edges.push({ from, to })
    }
  }
  return { modules, edges }
}

/** Strongly connected components (Tarjan) of the folder graph with more than one folder, or a self-loop. */
function folderCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, Set<string>>()
  for (const e of edges) {
    const a = folderOf(e.from)
    const b = folderOf(e.to)
    // src/'s root is outside the layers (see layers.ts): errors.ts below all, index.ts above all.
    if (a === b || a === '.' || b === '.') continue
    if (!next.has(a)) next.set(a, new Set())
    if (!next.has(b)) next.set(b, new Set())
    next.get(a)!.add(b)
  }
  let index = 0
  const indexOf = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const visit = (v: string) => {
    indexOf.set(v, index)
    low.set(v, index)
    index++
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!))
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = []
      for (;;) {
        const w = stack.pop()!
        onStack.delete(w)
        component.push(w)
        if (w === v) break
      }
      if (component.length > 1) components.push(component.sort())
    }
  }
  for (const v of [...next.keys()].sort()) if (!indexOf.has(v)) visit(v)
  return components
}

/**
 * Every way `edges` breaks the rules for `layers`: folder cycles, imports from a lower layer into a
 * higher one, imports into another folder other than through its index.ts, folders no layer names,
 * and folders imported from outside that have no index.ts.
 */
export function checkImportGraph(
  graph: { modules: readonly string[]; edges: readonly ImportEdge[] },
  layers: readonly Layer[],
): Violation[] {
  const violations: Violation[] = []
  const folders = [...new Set(graph.modules.map(folderOf))].filter((f) => f !== '.').sort()
  for (const folder of folders) if (!layerOf(layers, folder)) violations.push({ rule: 'unlayered', folder })
  for (const folder of folders) if (!graph.modules.includes(`${folder}/index.ts`)) violations.push({ rule: 'no-entry', folder })
  for (const component of folderCycles(graph.edges)) {
    const inside = new Set(component)
    violations.push({
      rule: 'cycle',
      folders: component,
      edges: graph.edges.filter((e) => folderOf(e.from) !== folderOf(e.to) && inside.has(folderOf(e.from)) && inside.has(folderOf(e.to))),
    })
  }
  for (const edge of graph.edges) {
    const a = folderOf(edge.from)
    const b = folderOf(edge.to)
    if (a === b) continue
    // src/'s root (index.ts, errors.ts) is the package entry and the error base: index.ts may import
    // any folder (through its index.ts), and anything may import errors.ts.
    if (b === '.') continue
    const la = layerOf(layers, a)
    const lb = layerOf(layers, b)
    if (la && lb && lb.rank > la.rank) violations.push({ rule: 'upward', edge, fromLayer: la.name, toLayer: lb.name })
    if (edge.to !== `${b}/index.ts`) violations.push({ rule: 'deep', edge })
  }
  return violations
}

/** A violation as one line a person can act on. */
export function describeViolation(v: Violation): string {
  switch (v.rule) {
    case 'cycle':
      return `import cycle between ${v.folders.join(', ')}: ${v.edges.map((e) => `${e.from} → ${e.to}`).join('; ')}`
    case 'upward':
      return `${v.edge.from} imports ${v.edge.to}: layer "${v.fromLayer}" must not depend on the higher layer "${v.toLayer}"`
    case 'deep':
      return `${v.edge.from} imports ${v.edge.to}: import from ${dirname(v.edge.to)}/index.ts instead (export it there if needed)`
    case 'unlayered':
      return `src/${v.folder} is in no layer: add it to scripts/architecture/layers.ts`
    case 'no-entry':
      return `src/${v.folder} has no index.ts: give it one entry point`
  }
}
