import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import QRCode from 'qrcode'
import {
  MAX_CHUNK_JWS_LENGTH,
  MAX_SINGLE_QR_JWS_LENGTH,
  ShcQrError,
  fromQrChunks,
  fromQrNumeric,
  healthCardFile,
  parseQrChunk,
  qrPng,
  qrPngChunks,
  qrSegments,
  qrSvg,
  toQrChunks,
  toQrNumeric,
} from './qr.js'

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
function fakeJws(len: number): string {
  let s = ''
  for (let i = 0; s.length < len; i++) s += B64URL[(i * 7) % 64]
  const chars = s.slice(0, len).split('')
  chars[Math.floor(len / 3)] = '.'
  chars[Math.floor((2 * len) / 3)] = '.'
  return chars.join('')
}

describe('numeric mode', () => {
  it('encodes each character as ord(c) - 45 in two digits', () => {
    assert.equal(toQrNumeric('X'), 'shc:/43') // the spec's own example
    assert.equal(toQrNumeric('-.'), 'shc:/0001')
    assert.equal(toQrNumeric('z'), 'shc:/77')
  })

  it('round-trips every JWS character', () => {
    const jws = `${B64URL}.${B64URL}.${B64URL}`
    const qr = toQrNumeric(jws)
    assert.match(qr, /^shc:\/\d+$/)
    assert.equal(fromQrNumeric(qr), jws)
  })

  it('rejects bad input', () => {
    assert.throws(() => toQrNumeric('a b'), ShcQrError)
    assert.throws(() => fromQrNumeric('shc:/123'), /odd/)
    assert.throws(() => fromQrNumeric('shc:/99'), /cannot appear/)
    assert.throws(() => fromQrNumeric('shc:/12a4'), /non-digit/)
    assert.throws(() => fromQrNumeric('http://x'), /shc:\//)
    assert.throws(() => fromQrNumeric('shc:/1/2/5656'), /chunk 1 of 2/)
  })

  it('refuses a JWS longer than the single-QR limit', () => {
    assert.doesNotThrow(() => toQrNumeric(fakeJws(MAX_SINGLE_QR_JWS_LENGTH)))
    assert.throws(() => toQrNumeric(fakeJws(MAX_SINGLE_QR_JWS_LENGTH + 1)), /1195/)
  })
})

describe('chunking (deprecated for producers, still read)', () => {
  it('keeps a JWS of <= 1195 characters in one unnumbered QR', () => {
    const chunks = toQrChunks(fakeJws(1195))
    assert.equal(chunks.length, 1)
    assert.match(chunks[0]!, /^shc:\/\d+$/)
  })

  it('splits longer JWS into balanced shc:/C/N/ chunks of <= 1191 characters and reassembles in any order', () => {
    for (const len of [1196, 1200, 2382, 2383, 5000]) {
      const jws = fakeJws(len)
      const chunks = toQrChunks(jws)
      assert.equal(chunks.length, Math.ceil(len / MAX_CHUNK_JWS_LENGTH))
      const parsed = chunks.map(parseQrChunk)
      parsed.forEach((c, i) => {
        assert.equal(c.index, i + 1)
        assert.equal(c.total, chunks.length)
        assert.ok(c.jws.length <= MAX_CHUNK_JWS_LENGTH)
        assert.ok(chunks[i]!.startsWith(`shc:/${i + 1}/${chunks.length}/`))
      })
      const sizes = parsed.map((c) => c.jws.length)
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= chunks.length, `balanced: ${sizes}`)
      assert.equal(fromQrChunks([...chunks].reverse()), jws)
    }
  })

  it('rejects incomplete, mixed or conflicting chunk sets', () => {
    const chunks = toQrChunks(fakeJws(3000))
    assert.throws(() => fromQrChunks(chunks.slice(1)), /missing chunk\(s\) 1/)
    assert.throws(() => fromQrChunks([chunks[0]!, 'shc:/2/2/5656']), /disagree/)
    assert.throws(() => fromQrChunks([...chunks, chunks[0]!.replace(/\d\d$/, '00')]), /two different/)
    assert.throws(() => parseQrChunk('shc:/3/2/5656'), /numbering/)
    assert.throws(() => parseQrChunk('shc:/1/5656'), /malformed/)
    assert.equal(fromQrChunks([...chunks, chunks[0]!]), fromQrChunks(chunks), 'an identical duplicate scan is fine')
  })
})

describe('QR images', () => {
  it('uses a byte segment for the prefix and a numeric segment for the digits', () => {
    const segs = qrSegments('shc:/2/3/5656')
    assert.equal(segs[0]!.mode, 'byte')
    assert.equal(Buffer.from(segs[0]!.data as Uint8Array).toString('latin1'), 'shc:/2/3/')
    assert.deepEqual(segs[1], { mode: 'numeric', data: '5656' })
    const qr = QRCode.create(qrSegments(toQrNumeric(fakeJws(MAX_SINGLE_QR_JWS_LENGTH))), { errorCorrectionLevel: 'L' })
    assert.ok(qr.version <= 22, `a 1195-character JWS fits V22 at level L (got V${qr.version})`)
    assert.deepEqual(
      qr.segments.map((s) => s.mode.id),
      ['Byte', 'Numeric'],
    )
  })

  it('renders PNG and SVG', async () => {
    const jws = fakeJws(600)
    const png = await qrPng(jws)
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    const svg = await qrSvg(jws)
    assert.match(svg, /^<svg[\s>]/)
    assert.match(svg, /<\/svg>\s*$/)
    const pngs = await qrPngChunks(fakeJws(2500))
    assert.equal(pngs.length, 3)
  })

  it('refuses to render beyond version 22', async () => {
    await assert.rejects(qrPng(fakeJws(MAX_SINGLE_QR_JWS_LENGTH), { errorCorrectionLevel: 'H' }), /version/)
  })
})

describe('healthCardFile', () => {
  it('wraps JWS strings as { verifiableCredential }', () => {
    const jws = fakeJws(100)
    assert.deepEqual(healthCardFile([jws]), { verifiableCredential: [jws] })
    assert.throws(() => healthCardFile(['not a jws']), ShcQrError)
  })
})
