/**
 * What a stranger with only an RPC URL and the contracts' public ABIs reads about each record and
 * grant (issue 22): shared by the stranger test on a full run (test/privacy/stranger.int.test.ts).
 */
import {
  type Abi,
  type AbiFunction,
  type Address,
  type Hex,
  createPublicClient,
  decodeEventLog,
  decodeFunctionData,
  getAddress,
  http,
} from 'viem'
import { CATEGORIES, type Category } from '../../src/core/index.js'
import { consentRegistryAbi, medicalRecordAbi, providerRegistryAbi } from '../../src/contracts/index.js'

const ABIS: Abi[] = [medicalRecordAbi as Abi, consentRegistryAbi as Abi, providerRegistryAbi as Abi]
/**
 * Names a field must not have: it would say what it holds even when its values look opaque. (A
 * salted commitment to the break-glass reason may stay: it tells nothing without the salt, and the
 * reason and its plain hashes are searched for by value.)
 */
const TELLING_NAME = /categor|sensitiv|diagnos/i
/**
 * Times are left out of the matching: blocks a second apart share a timestamp by chance, and a
 * time says when, not what (docs/privacy.md lists times as visible).
 */
const TIME_NAME = /(At|until|time|date)$/i

/** One thing the stranger can observe about one record or grant: a named field and its value. */
export type Source = 'log' | 'calldata' | 'view'
type Observation = { field: string; value: string; source: Source }
type Subject = { patient: 'A' | 'B'; cls: string; sensitive: boolean; seen: Observation[] }

function flatten(source: Source, prefix: string, value: unknown, out: Observation[]): void {
  if (Array.isArray(value)) {
    out.push({ source, field: prefix, value: JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) })
    return
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(source, `${prefix}.${k}`, v, out)
    return
  }
  out.push({ source, field: prefix, value: typeof value === 'string' ? value.toLowerCase() : String(value) })
}

function decodeLog(log: { data: Hex; topics: [Hex, ...Hex[]] | [] }) {
  for (const abi of ABIS) {
    try {
      return decodeEventLog({ abi, data: log.data, topics: log.topics })
    } catch {}
  }
  return undefined
}

function decodeCall(data: Hex) {
  for (const abi of ABIS) {
    try {
      return { ...decodeFunctionData({ abi, data }), abi }
    } catch {}
  }
  return undefined
}

/**
 * Fields that link the two patients' records by class: values that are not the same for every
 * subject, and that are equal across the two patients only for subjects of the same class.
 */
function linkingFields(all: Subject[], classOf: (s: Subject) => string, sources: Source[]): string[] {
  const subjects = all.map((s) => ({ ...s, seen: s.seen.filter((o) => sources.includes(o.source)) }))
  const fields = new Set(subjects.flatMap((s) => s.seen.map((o) => o.field)))
  const out: string[] = []
  for (const field of fields) {
    if (TIME_NAME.test(field.split('.').pop() ?? '')) continue
    const fieldValue = (s: Subject) => s.seen.find((o) => o.field === field)?.value
    const values = new Set(subjects.map(fieldValue))
    if (values.size <= 1) continue
    let equalPairs = 0
    let mixed = false
    for (const a of subjects.filter((s) => s.patient === 'A')) {
      for (const b of subjects.filter((s) => s.patient === 'B')) {
        const va = fieldValue(a)
        if (va === undefined || va !== fieldValue(b)) continue
        equalPairs++
        if (classOf(a) !== classOf(b)) mixed = true
      }
    }
    if (equalPairs > 0 && !mixed) out.push(field)
  }
  return out
}

export type StrangerRead = {
  records: Subject[]
  grants: Subject[]
  tellingNames: Record<Source, string[]>
  tokenUriProblems: string[]
  tokenUris: number
}

/** What the test knows (and the stranger does not): each record's and grant's patient and class. */
export type Truth = {
  tokenClass: ReadonlyMap<bigint, { patient: 'A' | 'B'; category: Category }>
  grantClass: ReadonlyMap<bigint, { patient: 'A' | 'B'; categories: Category[] }>
  sensitive: ReadonlySet<Category>
}

/** Everything a stranger reads through the public ABIs from `rpcUrl`, tied to the record or grant it is about. */
export async function readAsStranger(rpcUrl: string, truth: Truth): Promise<StrangerRead> {
  const { tokenClass, grantClass } = truth
  const SENSITIVE = truth.sensitive
  const client = createPublicClient({ transport: http(rpcUrl) })
  const head = await client.getBlockNumber()
  // The stranger finds the contracts by their creation receipts.
  const contracts: Address[] = []
  const txs: { to: Address | null; input: Hex; hash: Hex }[] = []
  for (let n = 0n; n <= head; n++) {
    const block = await client.getBlock({ blockNumber: n, includeTransactions: true })
    for (const tx of block.transactions) {
      txs.push({ to: tx.to, input: tx.input, hash: tx.hash })
      if (tx.to === null) {
        const receipt = await client.getTransactionReceipt({ hash: tx.hash })
        if (receipt.contractAddress) contracts.push(getAddress(receipt.contractAddress))
      }
    }
  }
  const logs = await client.getLogs({ fromBlock: 0n, toBlock: head })
  const records = new Map<bigint, Subject>()
  const grants = new Map<bigint, Subject>()
  const subjectOf = (kind: 'record' | 'grant', id: bigint): Subject | undefined => {
    if (kind === 'record') {
      const c = tokenClass.get(id)
      if (!c) return undefined
      if (!records.has(id)) records.set(id, { patient: c.patient, cls: c.category, sensitive: SENSITIVE.has(c.category), seen: [] })
      return records.get(id)
    }
    const g = grantClass.get(id)
    if (!g) return undefined
    if (!grants.has(id)) {
      grants.set(id, { patient: g.patient, cls: g.categories.join('+'), sensitive: g.categories.some((c) => SENSITIVE.has(c)), seen: [] })
    }
    return grants.get(id)
  }
  const tellingNames: Record<Source, string[]> = { log: [], calldata: [], view: [] }
  const telling = (source: Source, where: string, name: string) => {
    if (TELLING_NAME.test(name)) tellingNames[source].push(`${where}: ${name}`)
  }
  const tokenUriProblems: string[] = []

  // Logs: every event field, and which record or grant it is about.
  const logsByTx = new Map<Hex, { tokenIds: bigint[]; grantIds: bigint[] }>()
  for (const log of logs) {
    const decoded = decodeLog(log)
    if (!decoded) continue
    const args = (decoded.args ?? {}) as Record<string, unknown>
    for (const name of Object.keys(args)) telling('log', `event ${decoded.eventName}`, name)
    const seen: Observation[] = []
    flatten('log', decoded.eventName ?? 'event', args, seen)
    const byTx = logsByTx.get(log.transactionHash) ?? { tokenIds: [], grantIds: [] }
    logsByTx.set(log.transactionHash, byTx)
    if (decoded.eventName === 'RecordIssued') byTx.tokenIds.push(args.tokenId as bigint)
    if (decoded.eventName === 'GrantCreated') byTx.grantIds.push(args.grantId as bigint)
    const record = typeof args.tokenId === 'bigint' ? subjectOf('record', args.tokenId) : undefined
    const grant = typeof args.grantId === 'bigint' ? subjectOf('grant', args.grantId) : undefined
    record?.seen.push(...seen)
    grant?.seen.push(...seen)
  }

  // Calldata: every argument of every call to a medvault contract, tied to what the call created.
  for (const tx of txs) {
    if (!tx.to || !contracts.includes(getAddress(tx.to))) continue
    const call = decodeCall(tx.input)
    if (!call) continue
    const fn = call.abi.find((f) => f.type === 'function' && f.name === call.functionName) as AbiFunction
    const seen: Observation[] = []
    for (const [i, input] of fn.inputs.entries()) {
      telling('calldata', `calldata of ${call.functionName}`, input.name ?? '')
      if ('components' in input) {
        for (const c of input.components) telling('calldata', `calldata of ${call.functionName}.${input.name}`, c.name ?? '')
      }
      flatten('calldata', `${call.functionName}.${input.name ?? i}`, call.args?.[i], seen)
    }
    const made = logsByTx.get(tx.hash)
    for (const id of made?.tokenIds ?? []) subjectOf('record', id)?.seen.push(...seen)
    for (const id of made?.grantIds ?? []) subjectOf('grant', id)?.seen.push(...seen)
  }

  // Views: every function of one uint256 (a token or grant id), for every id, at every contract.
  const ids = [...new Set([...tokenClass.keys(), ...grantClass.keys()])]
  let tokenUris = 0
  for (const address of contracts) {
    for (const abi of ABIS) {
      const views = abi.filter(
        (f): f is AbiFunction =>
          f.type === 'function' &&
          (f.stateMutability === 'view' || f.stateMutability === 'pure') &&
          f.inputs.length === 1 &&
          f.inputs[0]!.type === 'uint256',
      )
      for (const view of views) {
        for (const output of view.outputs) {
          telling('view', `view ${view.name}`, output.name ?? '')
          if ('components' in output) for (const c of output.components) telling('view', `view ${view.name}`, c.name ?? '')
        }
        for (const id of ids) {
          let result: unknown
          try {
            result = await client.readContract({ address, abi: [view], functionName: view.name, args: [id] })
          } catch {
            continue
          }
          if (view.name === 'tokenURI') {
            tokenUris++
            const json = Buffer.from(String(result).replace(/^data:application\/json;base64,/, ''), 'base64').toString('utf8')
            for (const category of CATEGORIES) if (json.includes(category)) tokenUriProblems.push(`tokenURI of #${id} names "${category}"`)
            const traits = (JSON.parse(json) as { attributes?: { trait_type: string }[] }).attributes?.map((a) => a.trait_type) ?? []
            for (const trait of traits) {
              if (!['issuer', 'issued', 'status'].includes(trait)) tokenUriProblems.push(`tokenURI of #${id} has trait "${trait}"`)
            }
          }
          const seen: Observation[] = []
          flatten('view', `${view.name}`, result, seen)
          // Token and grant ids overlap: the view's contract says which one the id is.
          subjectOf(abi === (consentRegistryAbi as Abi) ? 'grant' : 'record', id)?.seen.push(...seen)
        }
      }
    }
  }
  return { records: [...records.values()], grants: [...grants.values()], tellingNames, tokenUriProblems, tokenUris }
}

/** The fields of `sources` that give a record's or grant's category or sensitivity away. */
export function giveaways(r: StrangerRead, sources: Source[]): string[] {
  return [
    ...sources.flatMap((source) => r.tellingNames[source].map((n) => `named: ${n}`)),
    ...linkingFields(r.records, (s) => s.cls, sources).map((f) => `record field matching by category across patients: ${f}`),
    ...linkingFields(r.records, (s) => String(s.sensitive), sources).map((f) => `record field matching by sensitivity: ${f}`),
    ...linkingFields(r.grants, (s) => s.cls, sources).map((f) => `grant field matching by category scope across patients: ${f}`),
    ...linkingFields(r.grants, (s) => String(s.sensitive), sources).map((f) => `grant field matching by sensitive scope: ${f}`),
  ]
}
