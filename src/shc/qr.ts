import QRCode, { type QRCodeErrorCorrectionLevel, type QRCodeSegment } from 'qrcode'

/**
 * SMART Health Cards as QR codes (spec.smarthealth.cards, "Health Cards as QR Codes" / "Encoding QRs").
 *
 * Each QR carries two segments: a byte-mode segment `shc:/` (plus `C/N/` for a chunk of a multi-QR card) and a numeric
 * segment where every JWS character c becomes the two digits of ord(c) - 45. QRs are limited to Version 22; a JWS of at
 * most 1195 characters fits one V22 QR at error correction L. Chunking (`shc:/C/N/...`, chunks of at most 1191
 * characters, balanced in size) is deprecated since VCI 1.3.0 for producers, but consumers still need to read it.
 */

export const SHC_PREFIX = 'shc:/'
/** Longest JWS that fits in a single Version 22 QR at error correction L. */
export const MAX_SINGLE_QR_JWS_LENGTH = 1195
/** Longest JWS fragment allowed in one chunk of a multi-QR card. */
export const MAX_CHUNK_JWS_LENGTH = 1191
/** Largest QR version the spec allows (105x105 modules, ~40mm printed). */
export const MAX_QR_VERSION = 22
export const SMART_HEALTH_CARD_MEDIA_TYPE = 'application/smart-health-card'
export const SMART_HEALTH_CARD_FILE_EXTENSION = '.smart-health-card'

/** Characters of a compact JWS: base64url plus `.`; all lie in 45..122 so ord(c) - 45 is two digits. */
const JWS_CHARS = /^[A-Za-z0-9_\-.]*$/

export class ShcQrError extends Error {
  override name = 'ShcQrError'
}

function assertJwsChars(jws: string): void {
  if (!JWS_CHARS.test(jws)) throw new ShcQrError('not a compact JWS: only base64url characters and "." are allowed')
}

function toDigits(jws: string): string {
  assertJwsChars(jws)
  let out = ''
  for (let i = 0; i < jws.length; i++) out += String(jws.charCodeAt(i) - 45).padStart(2, '0')
  return out
}

function fromDigits(digits: string): string {
  if (!/^\d*$/.test(digits)) throw new ShcQrError('numeric part contains non-digit characters')
  if (digits.length % 2 !== 0) throw new ShcQrError('numeric part has an odd number of digits')
  let out = ''
  for (let i = 0; i < digits.length; i += 2) out += String.fromCharCode(Number(digits.slice(i, i + 2)) + 45)
  if (!JWS_CHARS.test(out)) throw new ShcQrError('numeric part decodes to characters that cannot appear in a compact JWS')
  return out
}

/** `shc:/` + numeric encoding of a JWS that fits a single QR (at most 1195 characters). */
export function toQrNumeric(jws: string): string {
  if (jws.length > MAX_SINGLE_QR_JWS_LENGTH) {
    throw new ShcQrError(`JWS is ${jws.length} characters; a single QR holds at most ${MAX_SINGLE_QR_JWS_LENGTH} (see toQrChunks)`)
  }
  return SHC_PREFIX + toDigits(jws)
}

/** Inverse of toQrNumeric: validates the prefix, digit pairs and JWS alphabet. Chunked codes go to fromQrChunks. */
export function fromQrNumeric(text: string): string {
  const t = text.trim()
  if (!t.toLowerCase().startsWith(SHC_PREFIX)) throw new ShcQrError('QR text does not start with shc:/')
  const rest = t.slice(SHC_PREFIX.length)
  if (rest.includes('/')) {
    const chunk = parseQrChunk(t)
    if (chunk.total !== 1) throw new ShcQrError(`this is chunk ${chunk.index} of ${chunk.total}; use fromQrChunks with all chunks`)
    return chunk.jws
  }
  return fromDigits(rest)
}

export type QrChunk = { index: number; total: number; jws: string }

/** Parses one `shc:/C/N/digits` (or single `shc:/digits`, as chunk 1 of 1). */
export function parseQrChunk(text: string): QrChunk {
  const t = text.trim()
  if (!t.toLowerCase().startsWith(SHC_PREFIX)) throw new ShcQrError('QR text does not start with shc:/')
  const rest = t.slice(SHC_PREFIX.length)
  const m = /^(\d+)\/(\d+)\/(\d*)$/.exec(rest)
  if (!m) {
    if (rest.includes('/')) throw new ShcQrError('malformed chunk header: expected shc:/C/N/<digits>')
    return { index: 1, total: 1, jws: fromDigits(rest) }
  }
  const index = Number(m[1])
  const total = Number(m[2])
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(total) || total < 1 || index < 1 || index > total) {
    throw new ShcQrError(`bad chunk numbering ${m[1]}/${m[2]}`)
  }
  return { index, total, jws: fromDigits(m[3] ?? '') }
}

/**
 * QR texts for a JWS: one `shc:/...` when it fits (<= 1195 characters), otherwise balanced `shc:/C/N/...` chunks of
 * at most 1191 characters each (deprecated by the spec for new issuers; prefer keeping cards small).
 */
export function toQrChunks(jws: string): string[] {
  assertJwsChars(jws)
  if (jws.length <= MAX_SINGLE_QR_JWS_LENGTH) return [toQrNumeric(jws)]
  const total = Math.ceil(jws.length / MAX_CHUNK_JWS_LENGTH)
  const size = Math.ceil(jws.length / total)
  const out: string[] = []
  for (let i = 0; i < total; i++) out.push(`${SHC_PREFIX}${i + 1}/${total}/${toDigits(jws.slice(i * size, (i + 1) * size))}`)
  return out
}

/** Reassembles a JWS from QR texts scanned in any order. Rejects mixed sets, gaps and conflicting duplicates. */
export function fromQrChunks(texts: readonly string[]): string {
  if (texts.length === 0) throw new ShcQrError('no QR texts given')
  const chunks = texts.map(parseQrChunk)
  const total = chunks[0]!.total
  const parts = new Map<number, string>()
  for (const c of chunks) {
    if (c.total !== total) throw new ShcQrError(`chunks disagree on the total (${total} vs ${c.total})`)
    const seen = parts.get(c.index)
    if (seen !== undefined && seen !== c.jws) throw new ShcQrError(`two different chunks numbered ${c.index}`)
    parts.set(c.index, c.jws)
  }
  const missing: number[] = []
  for (let i = 1; i <= total; i++) if (!parts.has(i)) missing.push(i)
  if (missing.length > 0) throw new ShcQrError(`missing chunk(s) ${missing.join(', ')} of ${total}`)
  let jws = ''
  for (let i = 1; i <= total; i++) jws += parts.get(i)!
  return jws
}

export type QrImageOptions = {
  /** Default 'L', the level the spec's 1195-character single-QR limit is computed for. */
  errorCorrectionLevel?: QRCodeErrorCorrectionLevel
  /** Pixels per module for PNG (default 4). */
  scale?: number
  margin?: number
}

/** The spec's two segments: byte-mode `shc:/` (+ `C/N/`) then numeric-mode digits. */
export function qrSegments(qrText: string): QRCodeSegment[] {
  const m = /^(shc:\/(?:\d+\/\d+\/)?)(\d*)$/.exec(qrText)
  if (!m) throw new ShcQrError('not an shc:/ QR text')
  return [
    { data: Buffer.from(m[1]!, 'latin1'), mode: 'byte' },
    { data: m[2]!, mode: 'numeric' },
  ]
}

function qrOptions(opts: QrImageOptions) {
  return { errorCorrectionLevel: opts.errorCorrectionLevel ?? 'L', margin: opts.margin ?? 4 } as const
}

function assertVersion(segments: QRCodeSegment[], opts: QrImageOptions): void {
  const qr = QRCode.create(segments, qrOptions(opts))
  if (qr.version > MAX_QR_VERSION) {
    throw new ShcQrError(`QR would be version ${qr.version}; SMART Health Cards allow at most version ${MAX_QR_VERSION}`)
  }
}

async function renderPng(qrText: string, opts: QrImageOptions): Promise<Buffer> {
  const segments = qrSegments(qrText)
  assertVersion(segments, opts)
  return QRCode.toBuffer(segments, { ...qrOptions(opts), type: 'png', scale: opts.scale ?? 4 })
}

async function renderSvg(qrText: string, opts: QrImageOptions): Promise<string> {
  const segments = qrSegments(qrText)
  assertVersion(segments, opts)
  return QRCode.toString(segments, { ...qrOptions(opts), type: 'svg' })
}

/** PNG of a single-QR card (JWS <= 1195 characters). */
export async function qrPng(jws: string, opts: QrImageOptions = {}): Promise<Buffer> {
  return renderPng(toQrNumeric(jws), opts)
}

/** SVG markup of a single-QR card (JWS <= 1195 characters). */
export async function qrSvg(jws: string, opts: QrImageOptions = {}): Promise<string> {
  return renderSvg(toQrNumeric(jws), opts)
}

/** PNGs for any JWS: one, or one per chunk (deprecated chunking) when it does not fit a single QR. */
export async function qrPngChunks(jws: string, opts: QrImageOptions = {}): Promise<Buffer[]> {
  return Promise.all(toQrChunks(jws).map((t) => renderPng(t, opts)))
}

export async function qrSvgChunks(jws: string, opts: QrImageOptions = {}): Promise<string[]> {
  return Promise.all(toQrChunks(jws).map((t) => renderSvg(t, opts)))
}

export type HealthCardFile = { verifiableCredential: string[] }

/** Contents of a `.smart-health-card` file (media type application/smart-health-card). */
export function healthCardFile(jwsList: readonly string[]): HealthCardFile {
  for (const jws of jwsList) {
    if (jws.split('.').length !== 3 || !JWS_CHARS.test(jws)) throw new ShcQrError('healthCardFile: every entry must be a compact JWS')
  }
  return { verifiableCredential: [...jwsList] }
}
