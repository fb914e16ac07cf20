/**
 * The patient's whole history, opened in this browser for its clinical dates and titles: the sealed
 * envelopes come a page at a time (GET /api/patients/{me}/envelopes), are decrypted here, and only
 * the few facts the timeline needs are kept, sealed in localStorage under a key derived from the
 * patient's encryption seed (HKDF-SHA256, AES-256-GCM), so the next visit opens only new records.
 * Entries are keyed by the envelope's content address, which changes if the envelope does.
 */
import { type Address, bytesToHex, hexToBytes } from 'viem'
import type { Api } from './api.js'
import { type ClinicalFacts, clinicalFacts } from './clinical.js'
import { type RecordSummary, decryptOwnEnvelope } from './records.js'

const CACHE_PREFIX = 'medvault.history.v1.'
const PAGE = 250
/** Fewer new records than this are fetched one by one rather than by pages of the whole history. */
const FEW = 20
const MAX_WORDS = 300

type Reader = { address: Address; encryptionSeed: Uint8Array }

async function cacheKey(reader: Reader): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', reader.encryptionSeed as BufferSource, 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: new TextEncoder().encode(reader.address.toLowerCase()),
      info: new TextEncoder().encode('medvault.portal.history-cache.v1'),
    },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

const toBase64 = (bytes: Uint8Array) => {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))

async function readCache(reader: Reader, key: CryptoKey): Promise<Map<string, ClinicalFacts>> {
  try {
    const stored = localStorage.getItem(CACHE_PREFIX + reader.address.toLowerCase())
    if (!stored) return new Map()
    const { iv, ciphertext } = JSON.parse(stored) as { iv: `0x${string}`; ciphertext: string }
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: hexToBytes(iv) as BufferSource },
      key,
      fromBase64(ciphertext) as BufferSource,
    )
    return new Map(Object.entries(JSON.parse(new TextDecoder().decode(plain)) as Record<string, ClinicalFacts>))
  } catch {
    // A damaged or foreign cache is only lost time: the records are opened again.
    return new Map()
  }
}

async function writeCache(reader: Reader, key: CryptoKey, facts: Map<string, ClinicalFacts>) {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const plain = new TextEncoder().encode(JSON.stringify(Object.fromEntries(facts)))
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain))
  try {
    localStorage.setItem(CACHE_PREFIX + reader.address.toLowerCase(), JSON.stringify({ iv: bytesToHex(iv), ciphertext: toBase64(sealed) }))
  } catch {
    // Storage full: the history is opened again next time.
  }
}

async function factsOf(envelope: Uint8Array, reader: Reader): Promise<ClinicalFacts> {
  const opened = await decryptOwnEnvelope(envelope, reader)
  if (!opened) return {}
  const facts = clinicalFacts(opened.resource)
  if (facts.words && facts.words.length > MAX_WORDS) facts.words = facts.words.slice(0, MAX_WORDS)
  return facts
}

export type HistoryProgress = { opened: number; total: number }

/**
 * The clinical facts of each of the patient's records, by content address (cid). Records that
 * cannot be opened this way (sealed to an earlier account) get empty facts and keep their issue date.
 */
export async function loadHistoryFacts(
  api: Api,
  records: RecordSummary[],
  onProgress?: (p: HistoryProgress) => void,
): Promise<Map<string, ClinicalFacts>> {
  const reader = api.account
  const key = await cacheKey(reader)
  const cached = await readCache(reader, key)
  const facts = new Map<string, ClinicalFacts>()
  const missing: RecordSummary[] = []
  for (const r of records) {
    const known = cached.get(r.cid)
    if (known) facts.set(r.cid, known)
    else missing.push(r)
  }
  if (missing.length === 0) return facts
  let opened = 0
  const total = missing.length
  onProgress?.({ opened, total })
  const open = async (cid: string, envelope: Uint8Array) => {
    try {
      facts.set(cid, await factsOf(envelope, reader))
    } catch {
      facts.set(cid, {})
    }
    onProgress?.({ opened: ++opened, total })
  }
  if (missing.length <= FEW) {
    await Promise.all(missing.map(async (r) => open(r.cid, await api.bytes(`/api/records/${r.tokenId}/envelope`))))
  } else {
    const wanted = new Set(missing.map((r) => r.cid))
    for (let offset = 0; ; offset += PAGE) {
      const page = await api.get<{ total: number; records: { cid: string; envelope: string }[] }>(
        `/api/patients/${reader.address}/envelopes?offset=${offset}&limit=${PAGE}`,
      )
      await Promise.all(page.records.filter((r) => wanted.has(r.cid)).map((r) => open(r.cid, fromBase64(r.envelope))))
      if (offset + PAGE >= page.total) break
    }
  }
  for (const [cid, f] of facts) cached.set(cid, f)
  await writeCache(reader, key, cached)
  return facts
}
