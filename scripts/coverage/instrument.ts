/**
 * Instruments the contracts under coverage with solidity-coverage's instrumenter, compiles them with
 * the project's solc-js (optimizer off, as solidity-coverage does for non-viaIR builds, so every
 * injected hash survives) and writes viem artifacts in the same shape as scripts/build-contracts.ts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'

const require = createRequire(import.meta.url)
const solc = require('solc') as {
  compile(input: string, options: { import(path: string): { contents: string } | { error: string } }): string
  version(): string
}

/** Hit map entry of solidity-coverage's instrumenter, keyed by the 8-byte hash injected in the code. */
export type InstrumentationData = Record<string, { contractPath: string; type: string; id: number; hits: number; locationIdx?: number }>

export type CoverageApi = {
  instrument(targets: { source: string; canonicalPath: string; relativePath?: string }[]): { canonicalPath: string; source: string }[]
  getInstrumentationData(): InstrumentationData
  setInstrumentationData(data: InstrumentationData): void
  report(folder?: string): Promise<void>
  saveCoverage(data: unknown): void
  coverage: { data: Record<string, unknown> }
}

/** The contracts that are measured; contracts/test (test helpers) and contracts/bench (a baseline) are compiled uninstrumented. */
export function isMeasured(relativePath: string): boolean {
  return relativePath.startsWith('contracts/') && !/^contracts\/(test|bench)\//.test(relativePath)
}

function solidityFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? solidityFiles(join(dir, entry.name)) : entry.name.endsWith('.sol') ? [join(dir, entry.name)] : [],
  )
}

/** Instruments, compiles and writes artifacts to `artifactsDir`; returns the instrumented file paths. */
export function instrumentAndCompile(api: CoverageApi, root: string, artifactsDir: string): string[] {
  const files = solidityFiles(join(root, 'contracts')).sort()
  const sources: Record<string, { content: string }> = {}
  const measured: string[] = []
  for (const file of files) {
    const rel = relative(root, file)
    const source = readFileSync(file, 'utf8')
    if (isMeasured(rel)) {
      const [out] = api.instrument([{ source, canonicalPath: file, relativePath: rel }])
      sources[rel] = { content: out!.source }
      measured.push(rel)
    } else {
      sources[rel] = { content: source }
    }
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: false },
      evmVersion: 'cancun',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  }
  const findImport = (path: string) => {
    for (const base of [join(root, 'node_modules'), root]) {
      const full = join(base, path)
      if (existsSync(full)) return { contents: readFileSync(full, 'utf8') }
    }
    return { error: `import not found: ${path}` }
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as {
    errors?: { severity: string; formattedMessage: string }[]
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>
  }
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) {
    for (const e of errors) console.error(e.formattedMessage)
    throw new Error('compiling the instrumented contracts failed')
  }
  rmSync(artifactsDir, { recursive: true, force: true })
  mkdirSync(artifactsDir, { recursive: true })
  const names: string[] = []
  for (const [source, contracts] of Object.entries(output.contracts)) {
    if (!source.startsWith('contracts/')) continue
    for (const [name, artifact] of Object.entries(contracts)) {
      if (artifact.evm.bytecode.object.length === 0) continue
      const camel = name[0]!.toLowerCase() + name.slice(1)
      // Plain JavaScript: the test processes load these at run time only (types come from the
      // real artifacts), so they need no TypeScript loader, and the precompiled tests have none.
      writeFileSync(
        join(artifactsDir, `${name}.js`),
        `// Instrumented for coverage by scripts/coverage/instrument.ts from ${source}.\n` +
          `export const ${camel}Abi = ${JSON.stringify(artifact.abi)}\n\n` +
          `export const ${camel}Bytecode = '0x${artifact.evm.bytecode.object}'\n`,
      )
      names.push(name)
    }
  }
  writeFileSync(
    join(artifactsDir, 'index.js'),
    names
      .sort()
      .map((n) => `export * from './${n}.js'`)
      .join('\n') + '\n',
  )
  return measured
}
