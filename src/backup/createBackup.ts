import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { bytesToHex, getAddress } from 'viem'
import { keystoreFileSchema } from '../accounts/index.js'
import { emergencyReasonsInvolving, tagTablesInvolving } from '../consent/index.js'
import type { UnlockedAccount } from '../accounts/index.js'
import { HomeError } from '../errors.js'
import type { Medvault } from '../home/index.js'
import { listRecords } from '../records/index.js'
import { CID } from 'multiformats/cid'
import { BACKUP_FORMAT, BACKUP_VERSION, type BackupBody, type BackupFile, backupMac } from './backupFormat.js'

export type CreateBackupParameters = {
  account: UnlockedAccount
  /** Leave out the record ciphertexts (when the IPFS store is shared, e.g. a Kubo cluster, and the new machine will use it too). */
  withoutCiphertexts?: boolean
}

export type CreateBackupReturnType = {
  file: BackupFile
  counts: {
    keySlips: number
    ciphertexts: number
    ciphertextBytes: number
    missingCiphertexts: number
    claimNonces: number
    crls: number
    emergencyReasons: number
    tagTables: number
  }
}

/**
 * One account's backup: its sealed keystore file, the network (chain, RPC URL when external,
 * contract addresses), the key slips wrapped to it, the ciphertexts of its records as this home's
 * IPFS store holds them, its accepted claim nonces, its health card revocation lists, the
 * salts of break-glass reasons it was party to and the sealed tag tables it made or was given, with a MAC keyed from the account's own secret. No plaintext health data: every record byte in it is
 * encrypted.
 *
 * @example
 * const { file } = await createBackup(mv, { account: await mv.keystore.unlock('alice', passphrase) })
 */
export async function createBackup(mv: Medvault, params: CreateBackupParameters): Promise<CreateBackupReturnType> {
  const { account } = params
  const address = getAddress(account.address)
  const keystoreFile = join(mv.paths.accounts, `${account.name}.json`)
  const keystore = keystoreFileSchema.safeParse(JSON.parse(readFileSync(keystoreFile, 'utf8')))
  if (!keystore.success) throw new HomeError(`The keystore file of "${account.name}" is damaged.`)

  const keySlips = mv.keySlips ? await mv.keySlips.slipsFor(address) : []
  const cids = new Set<string>(keySlips.map((s) => s.cid))
  for (const r of await listRecords(mv, { patient: address })) if (!r.erasedAt) cids.add(r.cid.toString())

  const ciphertexts: BackupBody['ciphertexts'] = []
  let ciphertextBytes = 0
  let missingCiphertexts = 0
  if (!params.withoutCiphertexts) {
    for (const text of [...cids].sort()) {
      const cid = CID.parse(text)
      if (!(await mv.store.has(cid))) {
        missingCiphertexts++ // stored on another node; the new machine reads it there
        continue
      }
      const parts: Uint8Array[] = []
      for await (const part of mv.store.cat(cid)) parts.push(part)
      const bytes = Buffer.concat(parts)
      ciphertextBytes += bytes.length
      ciphertexts.push({ cid: text, bytes: bytes.toString('base64') })
    }
  }

  const seenFile = join(mv.paths.dir, 'claims', `${address}.seen.json`)
  const claimNoncesSeen: string[] = existsSync(seenFile) ? JSON.parse(readFileSync(seenFile, 'utf8')) : []
  const crlDir = join(mv.paths.healthCardCrls, address)
  const healthCardCrls = existsSync(crlDir)
    ? readdirSync(crlDir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => ({ kid: f.slice(0, -5), crl: JSON.parse(readFileSync(join(crlDir, f), 'utf8')) as unknown }))
    : []

  const backup: BackupBody = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: new Date().toISOString(),
    account: { name: account.name, address, encryptionPublicKey: account.encryptionPublicKey },
    keystore: keystore.data,
    network: { chain: mv.config.chain, deployment: mv.deployment },
    keySlips,
    ciphertexts,
    claimNoncesSeen,
    healthCardCrls,
    emergencyReasons: emergencyReasonsInvolving(mv.paths.emergencyReasons, address),
    tagTables: tagTablesInvolving(mv.paths.tagTables, address).map((t) => ({
      patient: t.patient,
      reader: t.reader,
      sealed: Buffer.from(t.sealed).toString('base64'),
    })),
  }
  const salt = bytesToHex(randomBytes(32))
  const mac = bytesToHex(backupMac(backup, account.encryptionSeed, salt))
  return {
    file: { backup, mac: { alg: 'hmac-sha256', salt, value: mac } },
    counts: {
      keySlips: keySlips.length,
      ciphertexts: ciphertexts.length,
      ciphertextBytes,
      missingCiphertexts,
      claimNonces: claimNoncesSeen.length,
      crls: healthCardCrls.length,
      emergencyReasons: backup.emergencyReasons?.length ?? 0,
      tagTables: backup.tagTables?.length ?? 0,
    },
  }
}
