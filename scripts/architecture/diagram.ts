/**
 * The layer diagram of docs/architecture.md, as Mermaid, generated from layers.ts: one box per
 * layer listing its folders, arrows downward (a layer may import only the layers below it).
 * `npx tsx scripts/architecture/diagram.ts` prints it; test/architecture.test.ts checks the
 * docs page holds exactly this.
 */
import { pathToFileURL } from 'node:url'
import { LAYERS, type Layer } from './layers.js'

export function layerDiagram(layers: readonly Layer[] = LAYERS): string {
  const top = [...layers].sort((a, b) => b.rank - a.rank)
  const lines = ['```mermaid', 'flowchart TD']
  for (const layer of top) {
    lines.push(`  subgraph ${layer.name}["${layer.name}"]`)
    lines.push(`    ${layer.folders.map((f) => `${layer.name}_${f}["${f}/"]`).join('\n    ')}`)
    lines.push('  end')
  }
  for (let i = 0; i + 1 < top.length; i++) lines.push(`  ${top[i]!.name} --> ${top[i + 1]!.name}`)
  lines.push('```')
  return lines.join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(layerDiagram())
