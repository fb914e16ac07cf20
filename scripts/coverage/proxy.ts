/**
 * A JSON-RPC proxy in front of anvil that measures which instrumented code ran. Every transaction
 * is traced once it is mined (in the background, but always before a later `evm_revert` can take
 * it away), every `eth_call`, `eth_estimateGas` and `eth_fillTransaction` with `debug_traceCall`
 * at the block it ran on. A trace's struct
 * logs (pc, opcode, depth; no stack, so they stay small) are matched to the code each call frame
 * ran (from the call tracer), and every executed PUSH whose immediate is one of solidity-coverage's
 * injected hashes counts as a hit of that hash.
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

type RpcRequest = { jsonrpc: '2.0'; id: unknown; method: string; params?: unknown[] }
type RpcResponse = { id: unknown; result?: unknown; error?: { message: string } }
type StructLog = { pc: number; op: string; depth: number }
type CallFrame = { type: string; to?: string; input: string; calls?: CallFrame[]; code?: string }

const STRUCT_LOGS = { disableStack: true, disableMemory: true, disableStorage: true, enableReturnData: false }
/**
 * An injected hash is a bytes8 literal: PUSH8, or PUSH7..PUSH5 when it starts with zero bytes
 * (about one probe in 256 does), which solidity-coverage's own collector pads back to 8 bytes.
 */
const PUSH5 = 0x64
const PUSH8 = 0x67
const HASH_PUSHES = new Set(['PUSH5', 'PUSH6', 'PUSH7', 'PUSH8'])
/** Requests that run contract code without mining it (viem fills transactions with `eth_fillTransaction`). */
const SIMULATIONS = new Set(['eth_call', 'eth_estimateGas', 'eth_fillTransaction'])
/**
 * Requests that change the state of blocks already mined (or of the head block in place), so a
 * trace queued before them would replay a call on other state than it ran on: each waits for the
 * traces queued before it, and code cached before it is dropped. Balances, storage and nonces count
 * too: a CI run once failed on an eth_call with "no call frame for depth 2" (not reproduced in three
 * quiet runs since), and a test's `anvil_setBalance` landing between a call's two traces (struct
 * logs, then call frames) is one way for the frames to stop matching the logs.
 */
const STATE_RESETS = new Set([
  'evm_revert',
  'anvil_revert',
  'anvil_reset',
  'hardhat_reset',
  'anvil_setCode',
  'hardhat_setCode',
  'anvil_loadState',
  'anvil_setBalance',
  'hardhat_setBalance',
  'anvil_setStorageAt',
  'hardhat_setStorageAt',
  'anvil_setNonce',
  'hardhat_setNonce',
  'anvil_dealERC20',
  'anvil_setChainId',
])

export type TracingProxy = {
  url: string
  /** Hits per injected hash so far. */
  hits(): Record<string, number>
  /** Traces that could not be taken or matched to code (the run fails if there are any). */
  failures(): string[]
  /** Traces taken, struct log steps read, and milliseconds spent tracing. */
  stats(): { traces: number; steps: number; ms: number }
  close(): Promise<void>
}

export async function startTracingProxy(upstream: string, instrumentationFile: string): Promise<TracingProxy> {
  const known = new Set(Object.keys(JSON.parse(readFileSync(instrumentationFile, 'utf8')) as Record<string, unknown>))
  const hits = new Map<string, number>()
  const failures: string[] = []
  const pcMaps = new Map<string, Map<number, string>>()
  let codes = new Map<string, Promise<string>>()
  let nextId = 1
  const stats = { traces: 0, steps: 0, ms: 0 }

  async function rpc<T>(method: string, params: unknown[]): Promise<T> {
    const res = await fetch(upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
    })
    const body = (await res.json()) as RpcResponse
    if (body.error) throw new Error(`${method}: ${body.error.message}`)
    return body.result as T
  }

  /** pc -> injected hash for every PUSH5..PUSH8 of `code` that pushes one. */
  function pcMap(code: string): Map<number, string> {
    let map = pcMaps.get(code)
    if (map) return map
    map = new Map()
    const bytes = Buffer.from(code.slice(2), 'hex')
    for (let pc = 0; pc < bytes.length; pc++) {
      const op = bytes[pc]!
      if (op >= PUSH5 && op <= PUSH8) {
        const hash = `0x${bytes
          .subarray(pc + 1, pc + op - 0x5e)
          .toString('hex')
          .padStart(16, '0')}`
        if (known.has(hash)) map.set(pc, hash)
      }
      if (op >= 0x60 && op <= 0x7f) pc += op - 0x5f
    }
    pcMaps.set(code, map)
    return map
  }

  function codeAt(address: string, block: string, fresh: boolean): Promise<string> {
    const key = `${address.toLowerCase()}@${block}`
    let code = fresh ? undefined : codes.get(key)
    if (!code) {
      code = rpc<string>('eth_getCode', [address, block])
      codes.set(key, code)
    }
    return code
  }

  async function attachCode(frame: CallFrame, block: string, fresh: boolean): Promise<void> {
    frame.code = frame.type.startsWith('CREATE') ? frame.input : frame.to ? await codeAt(frame.to, block, fresh) : '0x'
    for (const call of frame.calls ?? []) await attachCode(call, block, fresh)
  }

  /**
   * Walks the struct logs with a stack of call frames and counts the executed hashes: the hits of
   * this trace, or why its logs and frames do not fit together.
   */
  function count(what: string, logs: StructLog[], root: CallFrame): { hits: Map<string, number> } | { failure: string } {
    const found = new Map<string, number>()
    const stack: { frame: CallFrame; next: number }[] = [{ frame: root, next: 0 }]
    for (const log of logs) {
      while (log.depth < stack.length) stack.pop()
      while (log.depth > stack.length) {
        const top = stack[stack.length - 1]!
        const calls = top.frame.calls ?? []
        let child: CallFrame | undefined
        while (top.next < calls.length && !child) {
          const call = calls[top.next++]!
          if ((call.code ?? '0x').length > 2) child = call
        }
        if (!child) {
          const calls = (top.frame.calls ?? []).map(
            (c) => `${c.type} ${c.to ?? '-'} ${(c.input ?? '').slice(0, 10)} code ${(c.code ?? '0x').length > 2 ? 'yes' : 'no'}`,
          )
          return {
            failure: `${what}: no call frame for depth ${log.depth} (${log.op} at pc ${log.pc}; frame ${top.frame.type} ${top.frame.to ?? '-'} ${(top.frame.input ?? '').slice(0, 10)}; its calls: ${calls.join(', ') || 'none'})`,
          }
        }
        stack.push({ frame: child, next: 0 })
      }
      if (!HASH_PUSHES.has(log.op)) continue
      const code = stack[stack.length - 1]!.frame.code ?? '0x'
      if (Number.parseInt(code.slice(2 + log.pc * 2, 4 + log.pc * 2), 16) !== PUSH5 + Number(log.op.slice(4)) - 5) {
        return { failure: `${what}: trace and code disagree at pc ${log.pc}` }
      }
      const hash = pcMap(code).get(log.pc)
      if (hash) found.set(hash, (found.get(hash) ?? 0) + 1)
    }
    return { hits: found }
  }

  /**
   * Takes a trace (struct logs, call frames, code: several requests) and counts it, twice at most:
   * a test that changes state at a block while its requests are under way (a CI run failed that
   * way, in 2 of 6 clean-clone runs, not reproduced in 9 runs since) makes the requests disagree,
   * and taking them again gives ones that agree. Hits count only from a trace that fits; one that
   * never does is a failure of the run.
   */
  async function takeAndCount(what: string, take: (fresh: boolean) => Promise<{ logs: StructLog[]; root: CallFrame }>): Promise<void> {
    let failure = ''
    for (let attempt = 0; attempt < 2; attempt++) {
      // The second time, code is read again too, not taken from the cache.
      const { logs, root } = await take(attempt > 0)
      const counted = count(what, logs, root)
      if ('hits' in counted) {
        stats.traces++
        stats.steps += logs.length
        for (const [hash, n] of counted.hits) hits.set(hash, (hits.get(hash) ?? 0) + n)
        return
      }
      failure = counted.failure
    }
    failures.push(failure)
  }

  async function traceTransaction(hash: string): Promise<void> {
    let receipt: { blockNumber: string } | null = null
    for (let i = 0; i < 2000 && !receipt; i++) {
      receipt = await rpc<{ blockNumber: string } | null>('eth_getTransactionReceipt', [hash])
      if (!receipt) await new Promise((r) => setTimeout(r, 5))
    }
    if (!receipt) {
      failures.push(`${hash}: not mined within 10 s, not traced`)
      return
    }
    const { blockNumber } = receipt
    await takeAndCount(hash, async (fresh) => {
      const trace = await rpc<{ structLogs: StructLog[] }>('debug_traceTransaction', [hash, STRUCT_LOGS])
      // Code as it was when the transaction ran (a contract created by it traces as a CREATE frame,
      // whose code is its init code). Only nested calls need the call tracer to tell frames apart.
      let root: CallFrame
      if (trace.structLogs.some((log) => log.depth > 1)) {
        root = await rpc<CallFrame>('debug_traceTransaction', [hash, { tracer: 'callTracer' }])
      } else {
        const tx = await rpc<{ to: string | null; input: string }>('eth_getTransactionByHash', [hash])
        root = tx.to ? { type: 'CALL', to: tx.to, input: tx.input } : { type: 'CREATE', input: tx.input }
      }
      await attachCode(root, blockNumber, fresh)
      return { logs: trace.structLogs, root }
    })
  }

  async function traceCall(method: string, params: unknown[], block: string): Promise<void> {
    const call = { ...(params[0] as Record<string, unknown>) }
    for (const field of ['gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas', 'nonce', 'type', 'chainId']) delete call[field]
    const overrides = params[2] ? { stateOverrides: params[2] } : {}
    await takeAndCount(`${method} at ${block}`, async (fresh) => {
      const trace = await rpc<{ structLogs: StructLog[] }>('debug_traceCall', [call, block, { ...STRUCT_LOGS, ...overrides }])
      let root: CallFrame
      if (trace.structLogs.some((log) => log.depth > 1)) {
        root = await rpc<CallFrame>('debug_traceCall', [call, block, { tracer: 'callTracer', ...overrides }])
        if (call.to === undefined || call.to === null) root.type = 'CREATE'
      } else {
        const input = String(call.input ?? call.data ?? '0x')
        root = typeof call.to === 'string' ? { type: 'CALL', to: call.to, input } : { type: 'CREATE', input }
      }
      await attachCode(root, block, fresh)
      return { logs: trace.structLogs, root }
    })
  }

  /**
   * Traces run one after another in the background, so a big transaction does not hold its
   * response past the client's timeout; a request that could take mined blocks away (`evm_revert`
   * and the like) waits until every trace queued before it is done.
   */
  let queue: Promise<void> = Promise.resolve()
  function enqueue(what: string, trace: () => Promise<void>): void {
    queue = queue
      .then(async () => {
        const t = Date.now()
        await trace()
        stats.ms += Date.now() - t
      })
      .catch((error: unknown) => {
        failures.push(`${what}: ${(error as Error).message}`)
      })
  }

  /** Runs before the request is forwarded. */
  async function before(request: RpcRequest): Promise<void> {
    if (STATE_RESETS.has(request.method)) await queue
  }

  /** Runs after the response came back, before it is passed on. */
  async function after(request: RpcRequest, response: RpcResponse): Promise<void> {
    if ((request.method === 'eth_sendRawTransaction' || request.method === 'eth_sendTransaction') && typeof response.result === 'string') {
      const hash = response.result
      enqueue(hash, () => traceTransaction(hash))
    } else if (request.method === 'eth_call' || (SIMULATIONS.has(request.method) && response.error)) {
      // A transaction filled or estimated without error is sent next and traced when mined: its
      // simulation would only count the same path twice. One that fails is never sent, so its
      // simulation is the only record of the revert path.
      const params = request.params ?? []
      const tag = typeof params[1] === 'string' && params[1] !== 'pending' ? params[1] : 'latest'
      // Pin 'latest' now: by the time the trace runs, more blocks may have been mined.
      const block = tag === 'latest' ? await rpc<string>('eth_blockNumber', []) : tag
      enqueue(request.method, () => traceCall(request.method, params, block))
    } else if (STATE_RESETS.has(request.method)) {
      codes = new Map()
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    let request: RpcRequest | RpcRequest[] | undefined
    try {
      request = JSON.parse(body) as RpcRequest | RpcRequest[]
      for (const r of Array.isArray(request) ? request : [request]) await before(r)
    } catch (error) {
      failures.push(`proxy: ${(error as Error).message}`)
    }
    const upstreamRes = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const text = await upstreamRes.text()
    try {
      const response = JSON.parse(text) as RpcResponse | RpcResponse[]
      if (Array.isArray(request) && Array.isArray(response)) {
        for (const r of request) {
          const match = response.find((x) => x.id === r.id)
          if (match) await after(r, match)
        }
      } else if (request && !Array.isArray(request) && !Array.isArray(response)) {
        await after(request, response)
      }
    } catch (error) {
      failures.push(`proxy: ${(error as Error).message}`)
    }
    res.writeHead(upstreamRes.status, { 'content-type': 'application/json' })
    res.end(text)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      failures.push(`proxy: ${(error as Error).message}`)
      res.writeHead(502)
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => Object.fromEntries(hits),
    failures: () => [...failures],
    stats: () => ({ ...stats }),
    close: async () => {
      await queue
      await new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
    },
  }
}
