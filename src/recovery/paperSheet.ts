/**
 * The printed form a paper guardian keeps, apart from the HPKE sealing in shareFormat.ts so that
 * the portal can make sheets in the browser without Node's crypto.
 */
import { type Address, type Hex, bytesToHex, getAddress, hexToBytes } from 'viem'
import { InvalidInputError } from '../errors.js'

/**
 * A paper guardian's sheet: the patient, the threshold, the guardian's signing key (it approves a
 * recovery by signature, so the sheet needs no funds) and the plaintext share, with a checksum
 * against typing mistakes. Short enough for one QR code.
 *
 *   mvrs1.<patient>.<threshold>.<patientKey>.<guardianKey>.<share>.<check>   (hex, check = 4 bytes)
 */
export type PaperSheet = { patient: Address; threshold: number; patientKey: Hex; guardianKey: Hex; share: Uint8Array }

const PREFIX = 'mvrs1'

async function checksum(body: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))
  // bytesToHex, not Buffer: the portal makes paper sheets in the browser.
  return bytesToHex(new Uint8Array(digest, 0, 4)).slice(2)
}

export async function encodePaperSheet(sheet: PaperSheet): Promise<string> {
  const body = [
    PREFIX,
    sheet.patient.slice(2).toLowerCase(),
    sheet.threshold.toString(),
    sheet.patientKey.slice(2),
    sheet.guardianKey.slice(2),
    bytesToHex(sheet.share).slice(2),
  ].join('.')
  return `${body}.${await checksum(body)}`
}

export async function decodePaperSheet(text: string): Promise<PaperSheet> {
  const bad = (why: string) =>
    new InvalidInputError(`This is not a medvault recovery sheet (${why}).`, {
      hint: 'Type it again exactly as printed, starting with "mvrs1.", or scan its QR code.',
    })
  const parts = text.trim().split('.')
  if (parts.length !== 7 || parts[0] !== PREFIX) throw bad('wrong format')
  const [, patient, threshold, patientKey, guardianKey, share, check] = parts as [string, string, string, string, string, string, string]
  if ((await checksum(parts.slice(0, 6).join('.'))) !== check) throw bad('checksum mismatch')
  if (!/^[0-9a-f]{40}$/.test(patient) || !/^[0-9a-f]{64}$/.test(patientKey) || !/^[0-9a-f]{64}$/.test(guardianKey)) throw bad('bad field')
  if (!/^([0-9a-f]{2})+$/.test(share) || !/^\d+$/.test(threshold)) throw bad('bad field')
  return {
    patient: getAddress(`0x${patient}`),
    threshold: Number(threshold),
    patientKey: `0x${patientKey}`,
    guardianKey: `0x${guardianKey}`,
    share: hexToBytes(`0x${share}`),
  }
}
