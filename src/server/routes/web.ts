/**
 * What the web portal needs beyond the REST API, because its keys live in the browser:
 *
 * - `GET /api/web/config`: the chain id and contract addresses the browser signs transactions for.
 * - `POST /api/rpc`: an authenticated JSON-RPC relay to the chain, so viem in the browser can use
 *   it as its transport. Only reads, receipts and `eth_sendRawTransaction` pass; a raw
 *   transaction must be signed by the signed-in account and go to a medvault contract.
 * - `POST /api/key-slips`: when a patient shares from the browser, the browser unwraps each
 *   covered record key and wraps it to the grantee (as `releasePendingKeys` does on a node); this
 *   stores those slips. Only the record's owner may store them, and only for someone the chain
 *   lets read the record now. A slip is ciphertext for its grantee: the server learns nothing.
 * - `PUT /api/tag-tables/{reader}`: the tag table (consent/tagTables.ts) a patient's browser sealed
 *   to a reader when it shares by category, stored as the CLI's `shareTagTable` stores it. Only
 *   for the caller's own tags; sealed to the reader, so the server learns nothing either.
 *   `GET /api/tag-tables/{patient}` gives the caller the table `patient` sealed to it, which its
 *   browser opens to name the categories of what it was shared.
 *
 * Issuing stays on `POST /api/records`: a provider's node holds the provider's keys (a hospital's
 * account is custodial by design, see docs/api.md "Whose keys"), the issuer must seal the record, sign
 * its attestation and write escrow slips with the node's key, and doing that in the browser would
 * need a second, ciphertext-only upload path into IPFS that anyone signed in could fill. One
 * issuing path keeps one set of checks (FHIR validation, category and sensitivity rules).
 */
import { type OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { type Address, type Hex, getAddress, parseTransaction, recoverTransactionAddress } from 'viem'
import { canAccess } from '../../consent/index.js'
import { keySlipSchema } from '../../core/index.js'
import { getOnChainRecord } from '../../records/index.js'
import type { ServerDeps, ServerEnv } from '../context.js'
import { audit, jsonResponse, sessionOf } from '../http.js'
import { HttpError } from '../outcomes.js'
import { errorResponses, jsonBody, jsonOk, secured } from './schemas.js'

/** Largest sealed tag table accepted, in base64 characters. */
const MAX_SEALED_TABLE = 16_384

/** Methods a browser wallet needs to read the chain, estimate, send its own signed transactions and wait for them. */
const READ_METHODS = new Set([
  'eth_chainId',
  'net_version',
  'eth_blockNumber',
  'eth_call',
  'eth_estimateGas',
  'eth_gasPrice',
  'eth_maxPriorityFeePerGas',
  'eth_feeHistory',
  'eth_getBalance',
  'eth_getCode',
  'eth_getTransactionCount',
  'eth_getBlockByNumber',
  'eth_getBlockByHash',
  'eth_getTransactionByHash',
  'eth_getTransactionReceipt',
  'eth_getLogs',
])
const MAX_BATCH = 50

const rpcRequest = z.object({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.number(), z.string(), z.null()]).optional(),
  method: z.string().max(64),
  params: z.array(z.unknown()).max(16).optional(),
})
type RpcRequest = z.infer<typeof rpcRequest>

function rpcError(id: RpcRequest['id'], code: number, message: string) {
  return { jsonrpc: '2.0', id: id ?? null, error: { code, message } }
}

async function relay(deps: ServerDeps, caller: Address, req: RpcRequest) {
  const params = req.params ?? []
  if (req.method === 'eth_sendRawTransaction') {
    const raw = params[0]
    if (typeof raw !== 'string' || !/^0x[0-9a-fA-F]+$/.test(raw)) return rpcError(req.id, -32602, 'Expected one signed transaction.')
    let from: Address
    let to: Address | undefined
    try {
      const tx = parseTransaction(raw as Hex)
      to = tx.to ? getAddress(tx.to) : undefined
      from = await recoverTransactionAddress({ serializedTransaction: raw as never })
    } catch {
      return rpcError(req.id, -32602, 'This is not a signed transaction.')
    }
    if (from !== caller) return rpcError(req.id, -32003, 'Only transactions signed by the signed-in account are relayed.')
    const { consent, records, registry } = deps.ctx.deployment
    if (!to || ![consent, records, registry].map((a) => getAddress(a)).includes(to)) {
      return rpcError(req.id, -32003, 'Only transactions to the medvault contracts are relayed.')
    }
  } else if (!READ_METHODS.has(req.method)) {
    return rpcError(req.id, -32601, `${req.method} is not available through this relay.`)
  }
  try {
    const result = await deps.ctx.publicClient.request({ method: req.method as never, params: params as never })
    return { jsonrpc: '2.0', id: req.id ?? null, result }
  } catch (error) {
    const e = error as { code?: number; details?: string; shortMessage?: string; cause?: { data?: unknown } }
    return {
      jsonrpc: '2.0',
      id: req.id ?? null,
      error: {
        code: typeof e.code === 'number' ? e.code : -32000,
        message: e.details ?? e.shortMessage ?? 'The chain refused the request.',
      },
    }
  }
}

export function webRoutes(app: OpenAPIHono<ServerEnv>, deps: ServerDeps) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/web/config',
      summary: 'The chain id and contract addresses, for clients that sign their own transactions',
      tags: ['web'],
      ...secured,
      responses: { ...jsonOk('{ chainId, contracts: { records, consent, registry } }'), ...errorResponses },
    }),
    (c) => {
      sessionOf(c)
      const { chainId, records, consent, registry } = deps.ctx.deployment
      return jsonResponse(c, { chainId, contracts: { records, consent, registry } })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/web/onboard',
      summary: 'Readies a new account made in the browser for the chain: funds it for gas on the embedded chain',
      description:
        "The portal makes a patient's keys in the browser; to publish its encryption key (MedicalRecord.setEncryptionKey, " +
        'signed in the browser) the account needs gas. On the embedded development chain the server funds an empty account, ' +
        'as `medvault account create` does; elsewhere it answers `funded: false` with what is needed.',
      tags: ['web'],
      ...secured,
      responses: { ...jsonOk('{ funded, balance, embedded }'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      let balance = await deps.ctx.publicClient.getBalance({ address: caller })
      // Only an empty account is funded, and only once: this is no faucet.
      if (balance === 0n && deps.fundNewAccount) {
        const nonce = await deps.ctx.publicClient.getTransactionCount({ address: caller })
        if (nonce === 0) {
          await deps.fundNewAccount(caller)
          balance = await deps.ctx.publicClient.getBalance({ address: caller })
        }
      }
      return jsonResponse(c, { funded: balance > 0n, balance, embedded: deps.fundNewAccount !== undefined })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/rpc',
      summary: 'JSON-RPC relay to the chain: reads, receipts, and raw transactions the caller signed to the medvault contracts',
      tags: ['web'],
      ...secured,
      request: jsonBody(z.union([rpcRequest, z.array(rpcRequest).min(1).max(MAX_BATCH)])),
      responses: { ...jsonOk('JSON-RPC 2.0 response(s)'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const body = c.req.valid('json')
      const answer = Array.isArray(body) ? await Promise.all(body.map((r) => relay(deps, caller, r))) : await relay(deps, caller, body)
      return jsonResponse(c, answer)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/tag-tables/{reader}',
      summary: "Store the caller's category tag table that its browser sealed to `reader` (the caller's own tags only)",
      tags: ['consent'],
      ...secured,
      request: {
        params: z.object({
          reader: z
            .string()
            .regex(/^0x[0-9a-fA-F]{40}$/)
            .openapi({ param: { name: 'reader', in: 'path' } }),
        }),
        // A whole table is ~300 classes of 10 bytes, sealed: a few KB, base64.
        ...jsonBody(z.object({ sealed: z.base64().max(MAX_SEALED_TABLE) })),
      },
      responses: { 201: { description: '{ stored } (application/json)' }, ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const store = deps.ctx.tagTables
      if (!store) throw new HttpError(404, 'not-supported', 'This server keeps no tag tables.')
      const reader = getAddress(c.req.valid('param').reader)
      if (reader === caller) throw new HttpError(422, 'invalid', 'Your own tags need no table: your keys derive them.')
      await store.put(caller, reader, new Uint8Array(Buffer.from(c.req.valid('json').sealed, 'base64')))
      return jsonResponse(c, { stored: true }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/tag-tables/{patient}',
      summary: 'The category tag table `patient` sealed to the caller, for its browser to open (`sealed: null` when none was shared)',
      tags: ['consent'],
      ...secured,
      request: {
        params: z.object({
          patient: z
            .string()
            .regex(/^0x[0-9a-fA-F]{40}$/)
            .openapi({ param: { name: 'patient', in: 'path' } }),
        }),
      },
      responses: { ...jsonOk('{ sealed } (base64, or null when none was shared)'), ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const patient = getAddress(c.req.valid('param').patient)
      // None shared is an ordinary answer, not an error: the portal then shows the categories as "unknown".
      const sealed = await deps.ctx.tagTables?.get(patient, caller)
      return jsonResponse(c, { sealed: sealed ? Buffer.from(sealed).toString('base64') : null })
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/key-slips',
      summary: "Store record keys a patient's browser wrapped to a grantee (the record's owner only; grantees the chain lets read)",
      tags: ['consent'],
      ...secured,
      request: jsonBody(z.object({ slips: z.array(keySlipSchema).min(1).max(1000) })),
      responses: { 201: { description: '{ stored } (application/json)' }, ...errorResponses },
    }),
    async (c) => {
      const caller = sessionOf(c).address
      const store = deps.ctx.keySlips
      if (!store) throw new HttpError(404, 'not-supported', 'This server keeps no key slips.')
      const { slips } = c.req.valid('json')
      for (const slip of slips) {
        const tokenId = BigInt(slip.tokenId)
        const record = await getOnChainRecord(deps.ctx, tokenId)
        if (record.owner !== caller || getAddress(slip.wrappedBy) !== caller) {
          throw new HttpError(403, 'forbidden', `Only the owner of record #${tokenId} can release its key.`)
        }
        if (slip.cid !== record.cid.toString())
          throw new HttpError(422, 'invalid', `The key slip for record #${tokenId} names another CID.`)
        if (!(await canAccess(deps.ctx, getAddress(slip.grantee), tokenId))) {
          throw new HttpError(403, 'forbidden', `No active grant lets that account read record #${tokenId}; share it first.`)
        }
      }
      for (const slip of slips) await store.put({ ...slip, grantee: getAddress(slip.grantee), wrappedBy: getAddress(slip.wrappedBy) })
      await audit(deps, { actor: caller, action: 'grant', patient: caller, outcome: 'allowed', reason: 'keys-released' })
      return jsonResponse(c, { stored: slips.length }, 201)
    },
  )
}
