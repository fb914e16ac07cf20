/**
 * Where recovery shares wait, as files in the home (like key slips: sealed, useless to anyone but
 * their holder):
 *
 *   <dir>/<patient>/setup.json                        guardians, threshold, the patient's public key
 *   <dir>/<patient>/request.json                      the new account a recovery was asked for
 *   <dir>/<patient>/guardians/<guardian>.json         a share sealed to its guardian
 *   <dir>/<patient>/released/<newAccount>/<guardian>.json   a share a guardian released to a new account
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type Address, getAddress, isAddress } from 'viem'
import { z } from 'zod'
import { type ShareBox, shareBoxSchema } from './shareFormat.js'

export const recoverySetupSchema = z.object({
  v: z.literal(1),
  patient: z.string(),
  /** The patient's account name in this home, so `--for NAME` still works once its keystore is gone. */
  name: z.string().optional(),
  patientKey: z.string(),
  threshold: z.number().int(),
  delaySeconds: z.number().int(),
  guardians: z.array(z.object({ address: z.string(), kind: z.enum(['account', 'paper']), name: z.string().optional() })),
  createdAt: z.string(),
})
export type RecoverySetup = z.infer<typeof recoverySetupSchema>

export interface RecoveryStore {
  putSetup(setup: RecoverySetup): void
  getSetup(patient: Address): RecoverySetup | undefined
  /** The patient whose setup recorded this account name. */
  findByName(name: string): Address | undefined
  /** Forgets the shares dealt to a patient's guardians (before dealing new ones). */
  clearGuardianShares(patient: Address): void
  putGuardianShare(box: ShareBox): void
  getGuardianShare(patient: Address, guardian: Address): ShareBox | undefined
  putReleased(newAccount: Address, box: ShareBox): void
  /** The shares released to `newAccount` for `patient`, one per guardian. */
  released(patient: Address, newAccount: Address): ShareBox[]
  /** The new account a recovery of `patient` was asked for (`medvault recovery start`). */
  putRequest(patient: Address, newAccount: Address): void
  getRequest(patient: Address): Address | undefined
}

function writeAtomic(file: string, value: unknown) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, file)
}

function readBox(file: string): ShareBox | undefined {
  if (!existsSync(file)) return undefined
  const parsed = shareBoxSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')))
  return parsed.success ? parsed.data : undefined
}

export function createFileRecoveryStore(dir: string): RecoveryStore {
  const base = (patient: Address) => join(dir, getAddress(patient))
  const released = (patient: Address, newAccount: Address) => join(base(patient), 'released', getAddress(newAccount))
  return {
    putSetup: (setup) => writeAtomic(join(base(setup.patient as Address), 'setup.json'), setup),
    getSetup(patient) {
      const file = join(base(patient), 'setup.json')
      if (!existsSync(file)) return undefined
      const parsed = recoverySetupSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')))
      return parsed.success ? parsed.data : undefined
    },
    clearGuardianShares: (patient) => rmSync(join(base(patient), 'guardians'), { recursive: true, force: true }),
    findByName(name) {
      if (!existsSync(dir)) return undefined
      for (const entry of readdirSync(dir).filter((e) => isAddress(e))) {
        const setup = this.getSetup(entry as Address)
        if (setup?.name === name) return getAddress(setup.patient)
      }
      return undefined
    },
    putGuardianShare: (box) => writeAtomic(join(base(box.patient as Address), 'guardians', `${getAddress(box.guardian)}.json`), box),
    getGuardianShare: (patient, guardian) => readBox(join(base(patient), 'guardians', `${getAddress(guardian)}.json`)),
    putReleased: (newAccount, box) =>
      writeAtomic(join(released(box.patient as Address, newAccount), `${getAddress(box.guardian)}.json`), box),
    released(patient, newAccount) {
      const folder = released(patient, newAccount)
      if (!existsSync(folder)) return []
      return readdirSync(folder)
        .filter((f) => f.endsWith('.json'))
        .flatMap((f) => readBox(join(folder, f)) ?? [])
    },
    putRequest: (patient, newAccount) =>
      writeAtomic(join(base(patient), 'request.json'), { newAccount: getAddress(newAccount), createdAt: new Date().toISOString() }),
    getRequest(patient) {
      const file = join(base(patient), 'request.json')
      if (!existsSync(file)) return undefined
      const parsed = z.object({ newAccount: z.string() }).safeParse(JSON.parse(readFileSync(file, 'utf8')))
      return parsed.success ? getAddress(parsed.data.newAccount) : undefined
    },
  }
}
