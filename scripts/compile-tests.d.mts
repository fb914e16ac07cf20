// Types of scripts/compile-tests.mjs for the TypeScript that imports it (scripts/coverage/run.ts).

/** This run's mirror of the project: `.test-build/run-PID/`. */
export const OUT: string
/** Compiles src/, test/, scripts/ and bench/ into OUT; returns how many files and how long it took. */
export function compileTests(): Promise<{ files: number; ms: number }>
export function removeCompiledTests(): void
/** `.test-build/run-N/test/x.test.js` -> `test/x.test.ts` (relative to the root). */
export function sourceOf(compiled: string): string
