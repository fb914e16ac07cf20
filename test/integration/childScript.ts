import { existsSync } from 'node:fs'

/**
 * The node arguments that run a TypeScript helper script in a child process. When the tests run
 * precompiled (scripts/run-tests.mjs compiles every file into .test-build/), the helper's compiled
 * `.js` sits beside it and runs without tsx, whose module hooks cost a server helper about 3 s of
 * CPU per start (docs/tests.md); otherwise (`node --import tsx --test FILE`) it runs through tsx.
 * Either way the same code runs.
 */
export function nodeArgsFor(tsFile: string): string[] {
  const compiled = tsFile.replace(/\.ts$/, '.js')
  return compiled !== tsFile && existsSync(compiled) ? [compiled] : ['--import', 'tsx', tsFile]
}
