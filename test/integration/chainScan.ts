/**
 * A leak scanner for acceptance tests: collects everything an anvil chain holds (the state dump with
 * every account's code and storage plus anvil's record of blocks, transactions and call traces; every
 * block with its transactions; every receipt; every log) and searches it for identifiers in the
 * encodings a careless contract or client could use. Findings name the identifier, the encoding and
 * the place, never the surrounding bytes.
 */
import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { keccak256 } from 'viem'

// ------------------------------------------------------------------------------------------ needles

/** Something that must not be on chain: a string (searched in many encodings) or raw bytes. */
export type Needle = { label: string; value: string } | { label: string; bytes: Uint8Array }

/** One concrete byte pattern to look for, as lowercase hex without 0x. */
export type Pattern = {
  needle: string
  encoding: string
  hex: string
  /** Only count a match at these byte offsets modulo 32 (for whole ABI/storage words). */
  wordAligned?: boolean
}

const utf8 = (s: string) => Buffer.from(s, 'utf8')
const utf16be = (s: string) => Buffer.from(s, 'utf16le').swap16()

/**
 * The base64 characters that are the same wherever `bytes` sits inside a longer base64 text: one
 * fragment for each of the three alignments of its first byte (the edge characters, which mix in
 * neighbouring bytes, are dropped).
 */
export function base64Fragments(bytes: Uint8Array): string[] {
  const out: string[] = []
  for (let shift = 0; shift < 3; shift++) {
    const full = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64')
    const start = Math.ceil((8 * shift) / 6)
    const end = Math.floor((8 * (shift + bytes.length)) / 6)
    out.push(full.slice(start, end))
  }
  return out
}

/** Shortest pattern searched (bytes); shorter ones would match random bytes by chance. */
const MIN_PATTERN_BYTES = 6

/** Every encoding of every needle. Strings are also tried lower- and upper-cased. */
export function patternsFor(needles: Needle[]): Pattern[] {
  const seen = new Set<string>()
  const out: Pattern[] = []
  const add = (needle: string, encoding: string, bytes: Uint8Array, wordAligned = false) => {
    if (bytes.length < MIN_PATTERN_BYTES) return
    const hex = Buffer.from(bytes).toString('hex')
    const key = `${needle}\0${hex}\0${wordAligned}`
    if (seen.has(key)) return
    seen.add(key)
    out.push({ needle, encoding, hex, ...(wordAligned ? { wordAligned } : {}) })
  }
  const addBytes = (label: string, prefix: string, bytes: Uint8Array) => {
    add(label, `${prefix}`, bytes)
    base64Fragments(bytes).forEach((fragment, shift) => {
      add(label, `base64(${prefix}) shift ${shift}, as UTF-8`, utf8(fragment))
      add(label, `base64url(${prefix}) shift ${shift}, as UTF-8`, utf8(fragment.replace(/\+/g, '-').replace(/\//g, '_')))
      add(label, `base64(${prefix}) shift ${shift}, as UTF-16LE`, Buffer.from(fragment, 'utf16le'))
    })
    const hexText = Buffer.from(bytes).toString('hex')
    add(label, `hex text of ${prefix}, as UTF-8`, utf8(hexText))
    add(label, `HEX TEXT of ${prefix}, as UTF-8`, utf8(hexText.toUpperCase()))
  }

  for (const needle of needles) {
    if ('bytes' in needle) {
      addBytes(needle.label, 'raw bytes', needle.bytes)
      continue
    }
    const variants: [string, string][] = [
      ['as-is', needle.value],
      ['lowercase', needle.value.toLowerCase()],
      ['UPPERCASE', needle.value.toUpperCase()],
    ]
    for (const [caseName, text] of variants) {
      addBytes(needle.label, `UTF-8 ${caseName}`, utf8(text))
      addBytes(needle.label, `UTF-16LE ${caseName}`, Buffer.from(text, 'utf16le'))
      addBytes(needle.label, `UTF-16BE ${caseName}`, utf16be(text))
      // A hash of a low-entropy identifier is as good as the identifier (dictionary attack).
      add(needle.label, `keccak256(UTF-8 ${caseName})`, Buffer.from(keccak256(utf8(text)).slice(2), 'hex'))
      add(needle.label, `sha256(UTF-8 ${caseName})`, createHash('sha256').update(utf8(text)).digest())
    }
    // Digits-only identifiers (a date without dashes, an MRN's number) may be stored as a number.
    if (/^\d{1,30}$/.test(needle.value)) {
      const word = Buffer.from(BigInt(needle.value).toString(16).padStart(64, '0'), 'hex')
      out.push({ needle: needle.label, encoding: 'uint256 word', hex: word.toString('hex'), wordAligned: true })
    }
  }
  return out
}

// ------------------------------------------------------------------------------------------ haystacks

/** A piece of chain data: `hex` is lowercase without 0x, whole bytes. */
export type Haystack = { where: string; hex: string }
export type TextHaystack = { where: string; text: string }

export type Finding = { needle: string; encoding: string; where: string; byteOffset: number }

function normaliseHex(value: string): string {
  const hex = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value
  return (hex.length % 2 === 1 ? `0${hex}` : hex).toLowerCase()
}

export const hexHaystack = (where: string, value: string): Haystack => ({ where, hex: normaliseHex(value) })

const isHexString = (value: unknown): value is string => typeof value === 'string' && /^0x[0-9a-fA-F]+$/.test(value)

/** Every hex string anywhere in a JSON value, each labelled with its path. */
export function hexStringsIn(value: unknown, path: string, out: Haystack[] = []): Haystack[] {
  if (isHexString(value)) out.push(hexHaystack(path, value))
  else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) hexStringsIn(item, `${path}[${i}]`, out)
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) hexStringsIn(child, `${path}.${key}`, out)
  }
  return out
}

// ------------------------------------------------------------------------------------------ scanning

/** Searches hex haystacks for the patterns (byte-aligned), and their bytes as Latin-1 text for the string needles in any case. */
export function scanHex(haystacks: Haystack[], patterns: Pattern[], needles: Needle[] = []): Finding[] {
  const findings: Finding[] = []
  const textNeedles = needles.filter((n): n is { label: string; value: string } => 'value' in n)
  for (const { where, hex } of haystacks) {
    for (const p of patterns) {
      for (let at = hex.indexOf(p.hex); at !== -1; at = hex.indexOf(p.hex, at + 1)) {
        if (at % 2 !== 0) continue
        const byteOffset = at / 2
        if (p.wordAligned && byteOffset % 32 !== 0 && byteOffset % 32 !== 4) continue
        findings.push({ needle: p.needle, encoding: p.encoding, where, byteOffset })
      }
    }
    if (textNeedles.length > 0 && hex.length >= 2 * MIN_PATTERN_BYTES) {
      const text = Buffer.from(hex, 'hex').toString('latin1').toLowerCase()
      for (const n of textNeedles) {
        const at = text.indexOf(n.value.toLowerCase())
        if (at !== -1) findings.push({ needle: n.label, encoding: 'bytes as text, any case', where, byteOffset: at })
      }
    }
  }
  return findings
}

/** Searches decoded text for each string needle in any case, and for its base64 fragments as they are. */
export function scanText(haystacks: TextHaystack[], needles: Needle[]): Finding[] {
  const findings: Finding[] = []
  for (const { where, text } of haystacks) {
    const lower = text.toLowerCase()
    for (const n of needles) {
      if ('value' in n) {
        const at = lower.indexOf(n.value.toLowerCase())
        if (at !== -1) findings.push({ needle: n.label, encoding: 'plain text, any case', where, byteOffset: at })
      }
      const bytes = 'value' in n ? utf8(n.value) : n.bytes
      base64Fragments(bytes).forEach((fragment, shift) => {
        if (fragment.length < MIN_PATTERN_BYTES) return
        const at = text.indexOf(fragment)
        if (at !== -1) findings.push({ needle: n.label, encoding: `base64 text shift ${shift}`, where, byteOffset: at })
      })
      if ('bytes' in n) {
        const at = lower.indexOf(Buffer.from(n.bytes).toString('hex'))
        if (at !== -1) findings.push({ needle: n.label, encoding: 'hex text', where, byteOffset: at })
      }
    }
  }
  return findings
}

/**
 * A short failure message: one line per identifier and encoding, with how many places and the
 * first few of them (never the surrounding bytes); at most `max` lines.
 */
export function formatFindings(findings: Finding[], max = 25): string {
  const groups = new Map<string, Finding[]>()
  for (const f of findings) {
    const key = `"${f.needle}" as ${f.encoding}`
    groups.set(key, [...(groups.get(key) ?? []), f])
  }
  const lines = [...groups].slice(0, max).map(([key, group]) => {
    const places = group.slice(0, 3).map((f) => `${f.where} @ byte ${f.byteOffset}`)
    const more = group.length > 3 ? `; +${group.length - 3} more` : ''
    return `  - ${key}: ${group.length} place(s): ${places.join('; ')}${more}`
  })
  if (groups.size > max) lines.push(`  ... and ${groups.size - max} more identifier/encoding pairs`)
  return lines.join('\n')
}

// ------------------------------------------------------------------------------------------ collecting

export type ChainSnapshot = {
  hex: Haystack[]
  text: TextHaystack[]
  counts: {
    blocks: number
    transactions: number
    receipts: number
    logs: number
    accounts: number
    storageSlots: number
    /** Blocks and transactions in anvil's own record (the state dump). */
    dumpBlocks: number
    dumpTransactions: number
    codeBytes: number
    dumpJsonBytes: number
    hexHaystacks: number
    hexBytes: number
  }
  /** The last block included. */
  toBlock: bigint
}

async function rpc<T>(rpcUrl: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = (await res.json()) as { result?: T; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}

type DumpedAccount = { code?: string; storage?: Record<string, string> }

/**
 * Everything the chain holds from `fromBlock` (default 0) to its current head: anvil's full state
 * dump (all accounts' code and storage, and anvil's own record of blocks, transactions, receipts
 * and call traces), every block with its transactions, every receipt and every log.
 */
export async function collectChain(rpcUrl: string, options: { fromBlock?: bigint } = {}): Promise<ChainSnapshot> {
  const hex: Haystack[] = []
  const text: TextHaystack[] = []
  const toBlock = BigInt(await rpc<string>(rpcUrl, 'eth_blockNumber'))
  const fromBlock = options.fromBlock ?? 0n

  // 1. anvil_dumpState: gzip-compressed JSON, hex encoded.
  const dumped = await rpc<string>(rpcUrl, 'anvil_dumpState')
  const json = gunzipSync(Buffer.from(normaliseHex(dumped), 'hex')).toString('utf8')
  // Hex strings are blanked for the text search (they are scanned as bytes below): digits like an
  // MRN's would otherwise turn up by chance inside hashes.
  text.push({ where: 'anvil_dumpState JSON text', text: json.replace(/"0x[0-9a-fA-F]*"/g, '"0x"') })
  const state = JSON.parse(json) as { accounts?: Record<string, DumpedAccount>; blocks?: unknown[]; transactions?: unknown[] }
  let storageSlots = 0
  let codeBytes = 0
  const accounts = Object.entries(state.accounts ?? {})
  for (const [address, account] of accounts) {
    codeBytes += normaliseHex(account.code ?? '').length / 2
    const slots = Object.entries(account.storage ?? {}).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0))
    storageSlots += slots.length
    if (slots.length > 0) {
      // Consecutive slots side by side, so a long string spread over several slots is whole again.
      hex.push({
        where: `storage of ${address} (all slots in order)`,
        hex: slots.map(([, v]) => normaliseHex(v).padStart(64, '0')).join(''),
      })
      hex.push({ where: `storage keys of ${address}`, hex: slots.map(([k]) => normaliseHex(k).padStart(64, '0')).join('') })
    }
  }
  // Every hex string in the dump, one by one: code, each slot, and anvil's blocks, transactions and traces.
  hexStringsIn(state, 'anvil_dumpState', hex)

  // 2. Every block with its transactions, and every receipt.
  let transactions = 0
  let receipts = 0
  for (let n = fromBlock; n <= toBlock; n++) {
    const block = await rpc<{ transactions: { hash: string }[] }>(rpcUrl, 'eth_getBlockByNumber', [`0x${n.toString(16)}`, true])
    hexStringsIn(block, `block ${n}`, hex)
    for (const [i, tx] of block.transactions.entries()) {
      transactions++
      const receipt = await rpc<unknown>(rpcUrl, 'eth_getTransactionReceipt', [tx.hash])
      if (receipt) receipts++
      hexStringsIn(receipt, `receipt of block ${n} tx ${i}`, hex)
    }
  }

  // 3. Every log of every contract.
  const logs = await rpc<unknown[]>(rpcUrl, 'eth_getLogs', [
    { fromBlock: `0x${fromBlock.toString(16)}`, toBlock: `0x${toBlock.toString(16)}` },
  ])
  hexStringsIn(logs, 'eth_getLogs', hex)

  const blocks = Number(toBlock - fromBlock + 1n)
  return {
    hex,
    text,
    toBlock,
    counts: {
      blocks,
      transactions,
      receipts,
      logs: logs.length,
      accounts: accounts.length,
      storageSlots,
      dumpBlocks: state.blocks?.length ?? 0,
      dumpTransactions: state.transactions?.length ?? 0,
      codeBytes,
      dumpJsonBytes: json.length,
      hexHaystacks: hex.length,
      hexBytes: hex.reduce((sum, h) => sum + h.hex.length / 2, 0),
    },
  }
}

/** Scans a snapshot for the needles in every encoding. */
export function scanSnapshot(snapshot: ChainSnapshot, needles: Needle[]): Finding[] {
  const patterns = patternsFor(needles)
  return [...scanHex(snapshot.hex, patterns, needles), ...scanText(snapshot.text, needles)]
}
