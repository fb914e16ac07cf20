import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Wallet, decryptKeystoreJson, encryptKeystoreJson, hexlify, scrypt } from 'ethers'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { InvalidInputError, WrongKeyError } from '../errors.js'
import { fromEthereumKeystore, toEthereumKeystore } from './ethereumKeystore.js'

const PASS = 'correct-horse-battery'

describe('Ethereum V3 keystores', () => {
  it('a key sealed here is a standard V3 file that ethers opens to the same address', async () => {
    const key = generatePrivateKey()
    const json = await toEthereumKeystore(key, PASS, 1 << 12)
    const parsed = JSON.parse(json)
    assert.equal(parsed.version, 3)
    assert.equal(parsed.Crypto, undefined) // the spec's spelling, as geth writes it
    assert.equal(parsed.crypto.cipher, 'aes-128-ctr')
    assert.equal(parsed.crypto.kdf, 'scrypt')
    assert.equal(parsed.crypto.kdfparams.n, 4096)
    const opened = await decryptKeystoreJson(json, PASS)
    assert.equal(opened.address, privateKeyToAccount(key).address)
    assert.equal(opened.privateKey, key)
  })

  it("the native scrypt plugged into ethers gives ethers' own bytes", async () => {
    const [passwd, salt] = [new TextEncoder().encode(PASS), new Uint8Array(32).fill(7)]
    const own = await (scrypt as unknown as { _: (...a: unknown[]) => Promise<Uint8Array> })._(passwd, salt, 1 << 12, 8, 1, 32)
    assert.equal(await scrypt(passwd, salt, 1 << 12, 8, 1, 32), hexlify(own))
  })

  it('opens a keystore ethers made', async () => {
    const wallet = Wallet.createRandom()
    const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, PASS, { scrypt: { N: 1 << 12 } })
    assert.deepEqual(await fromEthereumKeystore(json, PASS), { address: wallet.address, privateKey: wallet.privateKey })
  })

  it('a wrong passphrase is a WrongKeyError', async () => {
    const json = await toEthereumKeystore(generatePrivateKey(), PASS, 1 << 12)
    await assert.rejects(fromEthereumKeystore(json, 'not-the-passphrase', 'k.json'), (e: Error) => {
      assert.ok(e instanceof WrongKeyError)
      assert.match(e.message, /^The passphrase does not open k.json. Check MEDVAULT_PASSPHRASE/)
      return true
    })
  })

  it('refuses what is not a V3 keystore, or asks for an absurd scrypt cost, saying why', async () => {
    const good = JSON.parse(await toEthereumKeystore(generatePrivateKey(), PASS, 1 << 12))
    const cases: [string, RegExp][] = [
      ['{ not json', /not JSON/],
      [JSON.stringify({ version: 1, hello: 'world' }), /no version 3 "crypto" section/],
      [JSON.stringify({ ...good, crypto: { ...good.crypto, kdfparams: { ...good.crypto.kdfparams, n: 2 ** 30 } } }), /scrypt cost/],
      [JSON.stringify({ ...good, crypto: { ...good.crypto, cipher: 'aes-256-cbc' } }), /not an Ethereum V3 keystore/],
      [JSON.stringify({ ...good, address: '0000000000000000000000000000000000000001' }), /mismatch/],
      ['x'.repeat(70_000), /too large/],
    ]
    for (const [text, why] of cases) {
      await assert.rejects(fromEthereumKeystore(text, PASS), (e: Error) => {
        assert.ok(e instanceof InvalidInputError, `${e.constructor.name}: ${e.message}`)
        assert.match(e.message, why)
        assert.doesNotMatch(e.message, /[0-9a-f]{64}/i) // no key material in the message
        return true
      })
    }
  })
})
