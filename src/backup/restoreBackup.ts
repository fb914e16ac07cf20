import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { type Address, type Hex, getAddress } from 'viem'
import { type UnlockedAccount, openKeystore, keystoreFileSchema } from '../accounts/index.js'
import { type EmergencyReasonEntry, createFileTagTableStore, openKeySlipStore, saveEmergencyReason } from '../consent/index.js'
import { HomeError, InvalidInputError, TamperedRecordError, WrongKeyError } from '../errors.js'
import { type Config, DEFAULT_CONFIG, homePaths, loadConfig, saveConfig } from '../home/index.js'
import { createHeliaStore, createKuboStore } from '../storage/index.js'
import type { BlobStore } from '../storage/index.js'
import { type BackupBody, backupBodySchema, backupFileSchema, checkBackupMac } from './backupFormat.js'

/** A backup larger than this is refused before it is read (the file is one JSON document, read whole). */
export const MAX_BACKUP_BYTES = 512 * 1024 * 1024

export type RestoreBackupParameters = {
  /** The home to restore into: the same one, or a fresh one (created when missing). */
  home: string
  /** The backup file's text. */
  text: string
  passphrase: string
}

export type RestoreBackupReturnType = {
  account: { name: string; address: Address }
  /** False when the home already held this account's keys (a second run). */
  keysRestored: boolean
  configWritten: boolean
  keySlips: number
  ciphertexts: number
  claimNonces: number
  crls: number
  emergencyReasons: number
  tagTables: number
}

/**
 * Restores one account from a backup file into a home. Everything is checked before anything is
 * written: the passphrase opens the keystore inside, the MAC over the whole backup (keyed from
 * that keystore's secret) matches, the network is the home's own (or the home is new), and no
 * other account has the same name. Running it twice changes nothing the second time.
 */
export async function restoreBackup(params: RestoreBackupParameters): Promise<RestoreBackupReturnType> {
  const { body } = await openBackup(params.text, params.passphrase)
  const paths = homePaths(params.home)

  const existing = loadConfig(paths)
  const config = targetConfig(existing, body)
  const keystore = openKeystore(paths.accounts)
  const keystoreFile = join(paths.accounts, `${body.account.name}.json`)
  let keysRestored = true
  if (existsSync(keystoreFile)) {
    const held = keystore.get(body.account.name)
    if (held.address.toLowerCase() !== body.account.address.toLowerCase()) {
      throw new InvalidInputError(
        `This home already has a different account named "${body.account.name}" (${held.address}); the backup is of ${getAddress(body.account.address)}.`,
        { hint: 'Restore into another home with --home, or remove that account first (`medvault account remove NAME --yes`).' },
      )
    }
    keysRestored = false
  }

  // Checked, now written: ciphertexts and slips first, the keys last, so a crash part way leaves
  // at worst encrypted data without keys, and a second run completes it.
  const configWritten = existing === undefined || existing.deployment === undefined
  if (configWritten) saveConfig(paths, config)

  if (body.ciphertexts.length > 0) {
    const store = await openStore(paths.ipfs, config)
    try {
      for (const c of body.ciphertexts) await restoreCiphertext(store, c)
    } finally {
      await store.close()
    }
  }

  const slips = await openKeySlipStore(paths.keySlips, { legacyDir: paths.legacyKeySlips })
  try {
    const missing = []
    for (const slip of body.keySlips) if (!(await slips.get(BigInt(slip.tokenId), slip.grantee as Address))) missing.push(slip)
    await slips.putMany(missing)
  } finally {
    slips.close()
  }

  const address = getAddress(body.account.address)
  if (body.claimNoncesSeen.length > 0) {
    const seenFile = join(paths.dir, 'claims', `${address}.seen.json`)
    const seen: string[] = existsSync(seenFile) ? JSON.parse(readFileSync(seenFile, 'utf8')) : []
    mkdirSync(join(paths.dir, 'claims'), { recursive: true, mode: 0o700 })
    writeAtomically(seenFile, JSON.stringify([...new Set([...seen, ...body.claimNoncesSeen])]))
  }
  for (const { kid, crl } of body.healthCardCrls) {
    const file = join(paths.healthCardCrls, address, `${kid}.json`)
    const held = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { ctr?: number }) : undefined
    // The newer list wins: a revocation made on this machine after the backup is kept.
    if (held && (held.ctr ?? 0) >= ((crl as { ctr?: number }).ctr ?? 0)) continue
    mkdirSync(join(paths.healthCardCrls, address), { recursive: true, mode: 0o700 })
    writeAtomically(file, JSON.stringify(crl))
  }

  // Idempotent: a salt already kept is left as it is.
  for (const entry of body.emergencyReasons ?? []) saveEmergencyReason(paths.emergencyReasons, entry as EmergencyReasonEntry)

  // A table the home already holds for the pair may be newer (a later grant): it stays.
  const tables = createFileTagTableStore(paths.tagTables)
  for (const t of body.tagTables ?? []) {
    const patient = getAddress(t.patient)
    const reader = getAddress(t.reader)
    if (!(await tables.get(patient, reader))) await tables.put(patient, reader, new Uint8Array(Buffer.from(t.sealed, 'base64')))
  }

  if (keysRestored) {
    mkdirSync(paths.accounts, { recursive: true, mode: 0o700 })
    const tmp = `${keystoreFile}.${process.pid}.tmp`
    writeFileSync(tmp, `${JSON.stringify(body.keystore, null, 2)}\n`, { flag: 'wx', mode: 0o600 })
    renameSync(tmp, keystoreFile)
  }
  return {
    account: { name: body.account.name, address },
    keysRestored,
    configWritten,
    keySlips: body.keySlips.length,
    ciphertexts: body.ciphertexts.length,
    claimNonces: body.claimNoncesSeen.length,
    crls: body.healthCardCrls.length,
    emergencyReasons: body.emergencyReasons?.length ?? 0,
    tagTables: body.tagTables?.length ?? 0,
  }
}

/**
 * Parses and authenticates a backup: its keystore must open with the passphrase and its MAC must
 * match. Throws TamperedRecordError for an altered file, WrongKeyError for a wrong passphrase.
 */
export async function openBackup(text: string, passphrase: string): Promise<{ body: BackupBody; unlocked: UnlockedAccount }> {
  const damaged = (what: string) =>
    new TamperedRecordError(`This backup file is damaged or was altered (${what}); nothing was restored.`, {
      hint: 'Use another copy of the backup.',
    })
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new InvalidInputError('This file is not a medvault backup (it is not JSON).', { hint: 'Give the file `medvault backup` wrote.' })
  }
  const outer = backupFileSchema.safeParse(json)
  const raw = outer.success ? (outer.data.backup as Record<string, unknown> | undefined) : undefined
  if (!outer.success || !raw || typeof raw !== 'object' || raw.format !== 'medvault-backup') {
    throw new InvalidInputError('This file is not a medvault backup.', { hint: 'Give the file `medvault backup` wrote.' })
  }
  if (raw.version !== 1) {
    throw new InvalidInputError(`This backup is in format version ${String(raw.version)}, which this medvault does not read.`, {
      hint: 'Restore it with the medvault version that wrote it, or a newer one.',
    })
  }
  const keystoreFile = keystoreFileSchema.safeParse(raw.keystore)
  if (!keystoreFile.success) throw damaged('its keystore')

  // The keystore opens only from a file; a private temporary folder holds the sealed copy meanwhile.
  const scratch = mkdtempSync(join(tmpdir(), 'medvault-restore-'))
  let unlocked: UnlockedAccount
  try {
    const name = keystoreFile.data.name
    writeFileSync(join(scratch, `${name}.json`), JSON.stringify(keystoreFile.data), { mode: 0o600 })
    unlocked = await openKeystore(scratch)
      .unlock(name, passphrase)
      .catch((error: unknown) => {
        if (error instanceof WrongKeyError) {
          throw new WrongKeyError(`The passphrase does not open the keys in this backup of "${name}" (or the backup was altered).`, {
            hint: 'Type the passphrase the account had when the backup was made.',
          })
        }
        throw error
      })
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  if (!checkBackupMac(raw, unlocked.encryptionSeed, outer.data.mac.salt as Hex, outer.data.mac.value as Hex)) {
    throw damaged('its MAC does not match')
  }
  const body = backupBodySchema.safeParse(raw)
  if (!body.success) throw damaged(`unexpected ${body.error.issues.map((i) => i.path.join('.')).join(', ')}`)
  if (
    getAddress(body.data.account.address) !== unlocked.address ||
    body.data.account.name !== unlocked.name ||
    body.data.keySlips.some((s) => getAddress(s.grantee) !== unlocked.address) ||
    (body.data.tagTables ?? []).some((t) => getAddress(t.patient) !== unlocked.address && getAddress(t.reader) !== unlocked.address)
  ) {
    throw damaged('its parts name different accounts')
  }
  return { body: body.data, unlocked }
}

/** The home's config after the restore: its own when it is on the backup's network, else a new one. */
function targetConfig(existing: Config | undefined, body: BackupBody): Config {
  const { chain, deployment } = body.network
  // An embedded chain lives in its home's state file: a home without that chain cannot read the records.
  if (!existing?.deployment && existing?.chain.kind !== 'rpc') {
    if (chain.kind === 'embedded') {
      throw new HomeError("This backup is from a home with an embedded chain, which lives only in that home's chain state.", {
        hint: 'Restore it into that home (or a copy of it), or into a home joined to the same chain with `medvault init --rpc-url URL --chain-id N` first.',
      })
    }
    if (!existing) return { ...DEFAULT_CONFIG, chain, deployment }
  }
  if (existing.chain.chainId !== chain.chainId) {
    throw new HomeError(`This home is on chain ${existing.chain.chainId}; the backup is of an account on chain ${chain.chainId}.`, {
      hint: 'Restore into a home on the same chain, or a fresh one with --home.',
    })
  }
  if (existing.deployment && existing.deployment.records.toLowerCase() !== deployment.records.toLowerCase()) {
    throw new HomeError('This home uses other medvault contracts than the backup (another deployment on the same chain).', {
      hint: 'Restore into a home of that deployment, or a fresh one with --home.',
    })
  }
  return existing.deployment ? existing : { ...existing, deployment }
}

async function openStore(dir: string, config: Config): Promise<BlobStore> {
  // A helia-peer home keeps its blocks in the same repository as an embedded one: restore offline into it.
  return config.storage.kind === 'kubo' ? createKuboStore(config.storage.url) : createHeliaStore(dir)
}

/** Adds one ciphertext unless the store holds it; the content address it gets must be the record's. */
async function restoreCiphertext(store: BlobStore, c: BackupBody['ciphertexts'][number]): Promise<void> {
  const expected = CID.parse(c.cid)
  if (await store.has(expected)) return
  const bytes = Buffer.from(c.bytes, 'base64')
  const cid = await store.add(
    (async function* () {
      yield bytes
    })(),
  )
  if (!cid.equals(expected)) {
    await store.remove(cid).catch(() => undefined)
    throw new TamperedRecordError(`A ciphertext in the backup stored as ${cid.toString()}, not as its record's ${c.cid}.`, {
      hint: "The IPFS node lays content out differently; restore with --home into a home on the embedded store, or add the record's ciphertext from the node that holds it.",
    })
  }
}

function writeAtomically(file: string, text: string) {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, text, { mode: 0o600 })
  renameSync(tmp, file)
}
