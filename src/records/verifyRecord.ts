import { createHash } from 'node:crypto'
import type { RecordsContext } from '../core/index.js'
import { type OnChainRecord, getOnChainRecord } from './onChainRecord.js'
import { getProvider } from '../directory/index.js'
import { type RecordReader, checkIssuerStatus, openRecord } from './openRecord.js'
import { type Check, checkReason, ciphertextCheck, failedReadCheck } from './verifyChecks.js'

export type VerificationCheck = Check<'token' | 'issuer' | 'ciphertext' | 'access' | 'issuer-signature' | 'commitment' | 'file'>

export type VerifyRecordReturnType = {
  tokenId: bigint
  valid: boolean
  record: OnChainRecord | undefined
  issuerName: string | undefined
  checks: VerificationCheck[]
  /** Set when the record was corrected by a newer one (not a failure: the old version stays valid and readable). */
  supersededBy: bigint | undefined
}

/**
 * Verifies a record without asking its issuer. Anyone: the token exists, its issuer was an active
 * registered provider when it issued it, and the ciphertext is available and matches its content
 * address. Someone allowed to read it (`reader`): also the issuer's signature, the decryption and
 * the content commitment; with `file`, that the file is this record's content.
 */
export async function verifyRecord(
  ctx: RecordsContext,
  params: { tokenId: bigint; reader?: RecordReader; file?: Uint8Array },
): Promise<VerifyRecordReturnType> {
  const checks: VerificationCheck[] = []
  const done = (record: OnChainRecord | undefined, issuerName?: string): VerifyRecordReturnType => ({
    tokenId: params.tokenId,
    valid: checks.every((c) => c.ok),
    record,
    issuerName,
    checks,
    supersededBy: record && record.supersededBy !== 0n ? record.supersededBy : undefined,
  })

  let record: OnChainRecord
  try {
    record = await getOnChainRecord(ctx, params.tokenId)
    if (record.erasedAt) {
      checks.push({
        id: 'token',
        ok: false,
        message: `Record #${record.tokenId} was erased by its patient on ${record.erasedAt.toISOString()}: its content is gone, so there is nothing left to verify.`,
      })
      return done(record)
    }
    checks.push({ id: 'token', ok: true, message: `Record #${record.tokenId} exists on chain, owned by ${record.owner}.` })
  } catch (error) {
    checks.push({ id: 'token', ok: false, message: checkReason(error) })
    return done(undefined)
  }

  const provider = await getProvider(ctx, record.issuer)
  try {
    await checkIssuerStatus(ctx, record)
    const now = provider.status === 'active' ? '' : ` It is ${provider.status} now; records it issued before stay valid.`
    checks.push({
      id: 'issuer',
      ok: true,
      message: `Issued by ${provider.name} (${record.issuer}), an active registered provider at the time.${now}`,
    })
  } catch (error) {
    checks.push({ id: 'issuer', ok: false, message: checkReason(error) })
  }

  if (!params.reader) {
    checks.push(await ciphertextCheck(ctx, record.cid))
    return done(record, provider.name)
  }

  try {
    const opened = await openRecord(ctx, { tokenId: params.tokenId, reader: params.reader })
    checks.push({
      id: 'ciphertext',
      ok: true,
      message: `The encrypted document ${record.cid} is available, matches its content address and decrypts.`,
    })
    checks.push({ id: 'issuer-signature', ok: true, message: `The issuer's EIP-712 signature is valid and names ${record.issuer}.` })
    const hash = createHash('sha256')
    for await (const chunk of opened.content) hash.update(chunk)
    checks.push({ id: 'commitment', ok: true, message: 'The content matches the on-chain commitment.' })
    if (params.file) {
      const same = createHash('sha256').update(params.file).digest('hex') === hash.digest('hex')
      checks.push({
        id: 'file',
        ok: same,
        message: same ? "The file is exactly this record's content." : "The file differs from this record's content.",
      })
    }
  } catch (error) {
    checks.push({ id: failedReadCheck(error), ok: false, message: checkReason(error) })
  }
  return done(record, provider.name)
}
