/**
 * Which content addresses medvault reads: exactly the kind it writes (CIDv1, raw or dag-pb, a
 * sha2-256 multihash of 32 bytes). Anything else is refused before a store is asked for it, so a
 * crafted address cannot make the node return data that is not a stored block (an identity-hash
 * CID carries its "content" inline) or fetch other kinds of content from the network.
 */
import { CID } from 'multiformats/cid'
import { TamperedRecordError } from '../errors.js'

const RAW = 0x55
const DAG_PB = 0x70
const SHA2_256 = 0x12
/** A base32 CIDv1 of a sha2-256 raw or dag-pb block is 59 characters; room for other bases, no more. */
export const MAX_CID_LENGTH = 100

const refused = (what: string, why: string) =>
  new TamperedRecordError(`The content address ${what} is not one medvault stores records under (${why}); it was not fetched.`, {
    hint: 'The record names content medvault never writes. Do not trust it.',
  })

/** Throws TamperedRecordError unless `cid` is a CIDv1 (raw or dag-pb) with a sha2-256 digest. */
export function checkRecordCid(cid: CID): CID {
  const name = cid.toString().slice(0, MAX_CID_LENGTH)
  if (cid.version !== 1) throw refused(name, 'not CIDv1')
  if (cid.code !== RAW && cid.code !== DAG_PB) throw refused(name, `codec 0x${cid.code.toString(16)}`)
  if (cid.multihash.code !== SHA2_256 || cid.multihash.digest.length !== 32) {
    throw refused(name, `hash function 0x${cid.multihash.code.toString(16)}`)
  }
  return cid
}

/** Parses a CID string by the same rule, refusing an overlong one before parsing it. */
export function parseRecordCid(text: string): CID {
  if (text.length > MAX_CID_LENGTH) throw refused(`${text.slice(0, 20)}…`, `${text.length} characters long`)
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch {
    throw refused(text, 'not a CID')
  }
  return checkRecordCid(cid)
}
