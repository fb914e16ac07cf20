/**
 * Revocation lists of medvault's card issuers, in the spec's CRL format
 * (`{ kid, method: 'rid', ctr, rids }`, served at `{iss}/.well-known/crl/{kid}.json`), one file per
 * provider key in the home.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, getAddress } from 'viem'
import { InvalidInputError } from '../errors.js'
import { RID_PATTERN } from './issue.js'
import { type Crl, parseCrl } from './verify.js'

const fileOf = (dir: string, provider: Address, kid: string) =>
  join(dir, getAddress(provider), `${kid.replace(/[^A-Za-z0-9_-]/g, '')}.json`)

export function readCrl(dir: string, provider: Address, kid: string): Crl | undefined {
  const file = fileOf(dir, provider, kid)
  return existsSync(file) ? parseCrl(readFileSync(file, 'utf8')) : undefined
}

/** Adds `rid` to the provider key's revocation list; returns the new list. */
export function revokeRid(dir: string, provider: Address, kid: string, rid: string): Crl {
  if (!RID_PATTERN.test(rid))
    throw new InvalidInputError(`"${rid}" is not a revocation id.`, { hint: 'Use the --rid the card was issued with.' })
  const current = readCrl(dir, provider, kid)
  const crl: Crl = { kid, method: 'rid', ctr: (current?.ctr ?? 0) + 1, rids: [...new Set([...(current?.rids ?? []), rid])] }
  const file = fileOf(dir, provider, kid)
  mkdirSync(join(dir, getAddress(provider)), { recursive: true })
  writeFileSync(`${file}.tmp`, JSON.stringify(crl))
  renameSync(`${file}.tmp`, file)
  return crl
}
