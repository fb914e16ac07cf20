/**
 * The intended layers of src/, lowest first: the one place that says which folder may import
 * which. A folder may import its own layer and the layers below it, never one above; and it
 * imports another folder only through that folder's index.ts. test/architecture.test.ts checks
 * the code against this, and docs/architecture.md's diagram is generated from it
 * (`npx tsx scripts/architecture/diagram.ts`). src/errors.ts and src/index.ts sit outside the
 * layers: the error base below everything, the package entry above everything.
 */
export type Layer = { name: string; rank: number; folders: readonly string[]; description: string }

const layers = [
  {
    name: 'platform',
    folders: ['contracts', 'crypto', 'chain', 'storage'],
    description: 'contract ABIs, cryptography, the chain (clients, the one writer, the error table), blob storage',
  },
  {
    name: 'core',
    folders: ['core'],
    description: 'what every feature builds on: RecordsContext, categories, EIP-712 types, field commitments, key slip format',
  },
  {
    name: 'services',
    folders: ['accounts', 'journal', 'directory', 'consent', 'fhir', 'audit'],
    description: 'keystore, the transaction journal, provider registry, consent grants and key slips, FHIR, the audit log',
  },
  { name: 'records', folders: ['records'], description: 'sealing, issuing, opening and verifying one record' },
  {
    name: 'features',
    folders: ['claims', 'history', 'import', 'shc', 'research', 'report'],
    description: 'what is built from records: claims, history, bulk import, health cards, research, access reports',
  },
  {
    name: 'workflows',
    folders: ['operations', 'erasure', 'archive', 'recovery'],
    description: 'multi-step, crash-safe operations: journaled issue and grant, erasure, archives, account recovery',
  },
  { name: 'home', folders: ['home', 'backup', 'indexer'], description: 'a medvault home: opening it, backups, the chain indexer' },
  { name: 'apps', folders: ['server', 'cli'], description: 'the REST/FHIR server and the command line' },
] as const

export const LAYERS: readonly Layer[] = layers.map((l, rank) => ({ ...l, rank }))

export function layerOf(all: readonly Layer[], folder: string): Layer | undefined {
  return all.find((l) => l.folders.includes(folder))
}
