import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { HomeError } from '../errors.js'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<`0x${string}`>

/** Where a default install says its card issuers are: only this machine can fetch keys there. */
export const DEFAULT_ISSUER_BASE_URL = 'https://localhost/medvault/issuers'

/** The issuer base URL for a server a TLS proxy serves at `publicUrl` (the API serves the issuers' keys under /issuers). */
export function issuerBaseUrlFor(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/issuers`
}

export const configSchema = z.object({
  version: z.literal(1),
  chain: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('embedded'), chainId: z.number().int().positive() }),
    z.object({ kind: z.literal('rpc'), rpcUrl: z.string().url(), chainId: z.number().int().positive() }),
  ]),
  deployment: z
    .object({
      chainId: z.number().int(),
      registry: address,
      records: address,
      consent: address,
      audit: address,
      /** Absent in homes created before the research market. */
      research: address.optional(),
      archive: address.optional(),
      deployedAtBlock: z.string().regex(/^\d+$/),
    })
    .optional(),
  storage: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('embedded') }),
    z.object({ kind: z.literal('kubo'), url: z.string().url() }),
    /** The embedded repository on libp2p: `medvault ipfs serve` listens on `listen`; every command fetches what it lacks from `peers` only. */
    z.object({
      kind: z.literal('helia-peer'),
      listen: z.array(z.string().startsWith('/')).default(['/ip4/127.0.0.1/tcp/4101']),
      peers: z.array(z.string().startsWith('/')).default([]),
      timeoutSeconds: z.number().int().min(1).default(30),
    }),
  ]),
  /**
   * SMART Health Cards: issuer URLs are `<issuerBaseUrl>/<provider address>`; serve each issuer's
   * JWKS under it. `medvault start --public-url URL` sets it to `URL/issuers` while it is the default.
   */
  healthCards: z.object({ issuerBaseUrl: z.string().url().startsWith('https://') }).default({ issuerBaseUrl: DEFAULT_ISSUER_BASE_URL }),
  /** When the access log is anchored on chain: after `batchSize` entries, or once the oldest unanchored entry is `intervalSeconds` old. */
  audit: z
    .object({ batchSize: z.number().int().min(1).max(100_000), intervalSeconds: z.number().int().min(1) })
    .default({ batchSize: 100, intervalSeconds: 60 }),
  /** The indexer's database: SQLite in the home (`index.sqlite`), or PostgreSQL when several servers share one index. */
  index: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('sqlite') }),
      z.object({ kind: z.literal('postgres'), url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL') }),
    ])
    .default({ kind: 'sqlite' }),
})
export type Config = z.infer<typeof configSchema>

export const DEFAULT_CONFIG: Config = {
  version: 1,
  chain: { kind: 'embedded', chainId: 31337 },
  storage: { kind: 'embedded' },
  audit: { batchSize: 100, intervalSeconds: 60 },
  healthCards: { issuerBaseUrl: DEFAULT_ISSUER_BASE_URL },
  index: { kind: 'sqlite' },
}

/** Where a home keeps each thing. */
export function homePaths(dir: string) {
  return {
    dir,
    config: join(dir, 'config.json'),
    accounts: join(dir, 'accounts'),
    chainDir: join(dir, 'chain'),
    chainState: join(dir, 'chain', 'state.json'),
    ipfs: join(dir, 'ipfs'),
    run: join(dir, 'run.json'),
    /** Record keys wrapped to grantees and to the node's emergency escrow (consent/keySlips.ts). */
    keySlips: join(dir, 'keyslips.sqlite'),
    /** Where homes made before kept them, a file each; moved into `keySlips` when the home opens. */
    legacyKeySlips: join(dir, 'keyslips'),
    /** Patients' category tag tables sealed to their readers (consent/tagTables.ts). */
    tagTables: join(dir, 'tag-tables'),
    nodeKey: join(dir, 'node-key.json'),
    audit: join(dir, 'audit'),
    healthCardCrls: join(dir, 'shc', 'crl'),
    /** Salts of the break-glass reasons this node saw committed on chain: see consent/emergencyReasons.ts. */
    emergencyReasons: join(dir, 'emergencies'),
    /** Write-ahead journals of single operations (record add and amend, grant): see operations/operationJournal.ts. */
    operations: join(dir, 'operations'),
    /** The indexer's SQLite database (a cache of the chain: delete it and `medvault index rebuild`). */
    index: join(dir, 'index.sqlite'),
  }
}
export type HomePaths = ReturnType<typeof homePaths>

/** `--home`, else $MEDVAULT_HOME, else ~/.medvault. */
export function resolveHome(flag?: string): string {
  return resolve(flag ?? process.env.MEDVAULT_HOME ?? join(homedir(), '.medvault'))
}

export function loadConfig(paths: HomePaths): Config | undefined {
  if (!existsSync(paths.config)) return undefined
  let json: unknown
  try {
    json = JSON.parse(readFileSync(paths.config, 'utf8'))
  } catch (cause) {
    throw new HomeError(`${paths.config} is not valid JSON.`, { cause, hint: 'Fix or delete it, then run `medvault init`.' })
  }
  const parsed = configSchema.safeParse(json)
  if (!parsed.success) {
    throw new HomeError(`${paths.config} has unexpected settings: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}.`, {
      hint: 'Fix it, or move it away and run `medvault init`.',
    })
  }
  return parsed.data
}

/** Writes the config atomically (temporary file, then rename). */
export function saveConfig(paths: HomePaths, config: Config): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 })
  const tmp = `${paths.config}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, paths.config)
}
