/**
 * The salts of break-glass reasons this node saw opened, one file per window
 * (`<home>/emergencies/<txHash>.json`): the provider's log entry for it. Each holds the patient,
 * the provider, the reason code and the salt, never the provider's words. The patient's access
 * report releases the salt, so the patient can check a reason the provider states against the chain.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, type Hex, getAddress } from 'viem'
import { z } from 'zod'

const HEX32 = /^0x[0-9a-f]{64}$/

export const emergencyReasonEntrySchema = z.object({
  txHash: z.string().regex(HEX32),
  patient: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  provider: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  reasonCode: z.string().max(64).optional(),
  salt: z.string().regex(HEX32),
  commitment: z.string().regex(HEX32),
})

export type EmergencyReasonEntry = {
  txHash: Hex
  patient: Address
  provider: Address
  reasonCode?: string
  salt: Hex
  commitment: Hex
}

/** Keeps the salt of the window opened by `txHash`. Idempotent: the same report twice writes once. */
export function saveEmergencyReason(dir: string, entry: EmergencyReasonEntry): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const txHash = entry.txHash.toLowerCase()
  const body = { ...entry, txHash, salt: entry.salt.toLowerCase(), commitment: entry.commitment.toLowerCase() }
  try {
    writeFileSync(join(dir, `${txHash}.json`), `${JSON.stringify(body)}\n`, { flag: 'wx', mode: 0o600 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
}

/** The salts this node keeps for windows opened on `patient`, by transaction hash. */
export function emergencyReasonsOf(dir: string, patient: Address): Map<Hex, EmergencyReasonEntry> {
  return readEmergencyReasons(dir, (e) => e.patient === getAddress(patient))
}

/** The salts of windows `account` opened (as a provider) or that were opened on it (as a patient): what its backup carries. */
export function emergencyReasonsInvolving(dir: string, account: Address): EmergencyReasonEntry[] {
  const who = getAddress(account)
  return [...readEmergencyReasons(dir, (e) => e.patient === who || e.provider === who).values()]
}

function readEmergencyReasons(dir: string, wanted: (e: EmergencyReasonEntry) => boolean): Map<Hex, EmergencyReasonEntry> {
  const found = new Map<Hex, EmergencyReasonEntry>()
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return found
  }
  for (const name of names) {
    if (!name.endsWith('.json')) continue
    let parsed: z.infer<typeof emergencyReasonEntrySchema>
    try {
      parsed = emergencyReasonEntrySchema.parse(JSON.parse(readFileSync(join(dir, name), 'utf8')))
    } catch {
      continue // a torn or foreign file is no salt; the report then shows the commitment alone
    }
    const entry: EmergencyReasonEntry = {
      txHash: parsed.txHash as Hex,
      patient: getAddress(parsed.patient),
      provider: getAddress(parsed.provider),
      ...(parsed.reasonCode ? { reasonCode: parsed.reasonCode } : {}),
      salt: parsed.salt as Hex,
      commitment: parsed.commitment as Hex,
    }
    if (wanted(entry)) found.set(entry.txHash, entry)
  }
  return found
}
