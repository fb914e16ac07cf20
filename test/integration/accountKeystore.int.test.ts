/**
 * `medvault account export` and `account import` end to end, with the real CLI (dist/) on the
 * embedded chain: an exported key opens in ethers and in foundry's cast (the binary from the
 * `@foundry-rs/cast` npm package) at the same address; keystores made by cast and by ethers come in
 * and the new account signs transactions; bad input is refused with nothing written. Also what an
 * account publishes (issue 22): its open category tags, once; and a home of the old contracts is refused.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Wallet, decryptKeystoreJson, encryptKeystoreJson } from 'ethers'
import { consentRegistryAbi } from '../../src/contracts/index.js'
import { CATEGORIES, categoryTag, requiredSensitivity } from '../../src/core/index.js'
import { openMedvault } from '../../src/home/openMedvault.js'
import { medvault } from './cli.js'

const PASS = 'correct-horse-battery' // what medvault() puts in MEDVAULT_PASSPHRASE
const CAST = join(dirname(createRequire(import.meta.url).resolve('@foundry-rs/cast-linux-amd64/package.json')), 'bin', 'cast')

describe('account export and import (Ethereum V3 keystores)', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-keystore-'))
  const work = mkdtempSync(join(tmpdir(), 'medvault-keystore-out-'))
  const mv = (...args: string[]) => medvault(home, args)
  const accountFiles = () => readdirSync(join(home, 'accounts')).sort()
  let alice: string

  before(async () => {
    const r = await mv('account', 'create', 'alice', '--json')
    assert.equal(r.code, 0, r.stderr)
    alice = r.json.account.address
  })
  after(() => {
    rmSync(home, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  })

  it('exports a key that ethers and cast open to the same address, and never replaces a file without --force', async () => {
    const out = join(work, 'alice.json')
    const r = await mv('account', 'export', 'alice', '--out', out, '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.json.exported, { name: 'alice', address: alice, format: 'ethereum-v3-keystore', file: out })
    assert.equal(statSync(out).mode & 0o777, 0o600)
    const text = readFileSync(out, 'utf8')
    assert.equal((await decryptKeystoreJson(text, PASS)).address, alice)
    const cast = execFileSync(CAST, ['wallet', 'address', '--keystore', out, '--password', PASS], { encoding: 'utf8' })
    assert.equal(cast.trim(), alice)

    const again = await mv('account', 'export', 'alice', '--out', out, '--json')
    assert.equal(again.code, 2)
    assert.equal(again.json.error.code, 'INVALID_INPUT')
    assert.match(again.json.error.message, /already exists.*--force/)
    assert.equal(readFileSync(out, 'utf8'), text)
    const forced = await mv('account', 'export', 'alice', '--out', out, '--force', '--json')
    assert.equal(forced.code, 0, forced.stderr)
    assert.notEqual(readFileSync(out, 'utf8'), text) // a fresh salt and iv
    assert.equal((await decryptKeystoreJson(readFileSync(out, 'utf8'), PASS)).address, alice)
  })

  it('without --out prints the keystore and writes no file', async () => {
    const before = readdirSync(work)
    const r = await medvault(home, ['account', 'export', 'alice'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((await decryptKeystoreJson(r.stdout.trim(), PASS)).address, alice)
    assert.deepEqual(readdirSync(work), before)
  })

  it('a wrong passphrase exports nothing', async () => {
    const out = join(work, 'wrong.json')
    const r = await medvault(home, ['account', 'export', 'alice', '--out', out, '--json'], { MEDVAULT_PASSPHRASE: 'not-the-passphrase' })
    assert.equal(r.code, 3)
    assert.equal(r.json.error.code, 'WRONG_KEY')
    assert.equal(existsSync(out), false)
  })

  it('imports a keystore cast made; the account signs on chain', async () => {
    const dir = join(work, 'cast')
    mkdirSync(dir)
    const made = execFileSync(CAST, ['wallet', 'new', dir, '--unsafe-password', PASS], { encoding: 'utf8' })
    const address = made.match(/Address:\s+(0x[0-9a-fA-F]{40})/)![1]!
    const file = join(dir, readdirSync(dir)[0]!)
    const r = await mv('account', 'import', file, '--name', 'carol', '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json.account.address, address)
    // Publishing its new encryption key was a transaction signed with the imported key.
    assert.equal(r.json.account.published, true)
    const again = await mv('account', 'publish', 'carol', '--json')
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.json.txHash, /^0x[0-9a-f]{64}$/)
    // And what it exports is the same key.
    const back = await medvault(home, ['account', 'export', 'carol'])
    assert.equal((await decryptKeystoreJson(back.stdout.trim(), PASS)).address, address)
  })

  it('imports a keystore ethers made; the same key twice is refused', async () => {
    const wallet = Wallet.createRandom()
    const file = join(work, 'ethers.json')
    writeFileSync(
      file,
      await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, PASS, { scrypt: { N: 1 << 12 } }),
    )
    const r = await mv('account', 'import', file, '--name', 'dave', '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json.account.address, wallet.address)
    const twice = await mv('account', 'import', file, '--name', 'dave2', '--json')
    assert.equal(twice.code, 2)
    assert.match(twice.json.error.message, /already holds the key .* as account "dave"/)
  })

  it('a wrong passphrase or a malformed file imports nothing, with a typed error', async () => {
    const held = accountFiles()
    const good = join(work, 'alice.json')
    const wrong = await medvault(home, ['account', 'import', good, '--name', 'eve', '--json'], {
      MEDVAULT_PASSPHRASE: 'not-the-passphrase',
    })
    assert.equal(wrong.code, 3)
    assert.equal(wrong.json.error.code, 'WRONG_KEY')
    const bad = join(work, 'bad.json')
    writeFileSync(bad, JSON.stringify({ version: 3, crypto: { cipher: 'aes-128-ctr' } }))
    const malformed = await mv('account', 'import', bad, '--name', 'eve', '--json')
    assert.equal(malformed.code, 2)
    assert.equal(malformed.json.error.code, 'INVALID_INPUT')
    assert.match(malformed.json.error.message, /is not an Ethereum V3 keystore/)
    const human = await medvault(home, ['account', 'import', bad, '--name', 'eve'])
    assert.equal(human.stderr.trim().split('\n').length, 1)
    assert.deepEqual(accountFiles(), held)
  })

  it('an account publishes its open category tags once: "all" grants and break-glass may cover its non-sensitive classes only', async () => {
    const again = await mv('account', 'publish', 'alice', '--json')
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json.openTagsTxHash, null, '`account create` published them already; publishing again sends none')
    const home_ = await openMedvault({ home })
    try {
      const secret = (await home_.keystore.unlock('alice', PASS)).tagSecret
      const isOpen = (tag: `0x${string}`) =>
        home_.publicClient.readContract({
          address: home_.deployment.consent,
          abi: consentRegistryAbi,
          functionName: 'isOpenTag',
          args: [alice as `0x${string}`, tag],
        })
      for (const category of CATEGORIES) {
        const required = requiredSensitivity(category)
        assert.equal(await isOpen(categoryTag(secret, category, required)), required === 0, `${category} with no extra flag`)
        // A restricted record of any category is sensitive as a class: never open.
        assert.equal(await isOpen(categoryTag(secret, category, required | 16)), false, `restricted ${category}`)
      }
    } finally {
      await home_.close()
    }
  })

  /**
   * Points the home's deployment at a contract that lacks what the current layout needs, checks that
   * a command is refused with `message`, then puts the config back and checks the home works again.
   */
  async function refusedWith(stale: 'consent' | 'registry', message: RegExp) {
    const configFile = join(home, 'config.json')
    const config = readFileSync(configFile, 'utf8')
    const parsed = JSON.parse(config)
    writeFileSync(configFile, JSON.stringify({ ...parsed, deployment: { ...parsed.deployment, [stale]: parsed.deployment.records } }))
    try {
      const r = await mv('account', 'publish', 'alice', '--json')
      assert.equal(r.code, 8, r.stdout + r.stderr)
      assert.equal(r.json.error.code, 'HOME')
      assert.match(r.json.error.message, message)
    } finally {
      writeFileSync(configFile, config)
    }
    assert.equal((await mv('account', 'publish', 'alice', '--json')).code, 0)
  }

  it('a home deployed by the old contracts (categories in clear) is refused: make a new home', async () => {
    // The old ConsentRegistry has no isOpenTag: a contract without it stands in for one.
    await refusedWith('consent', /older medvault .*cannot use .*categories in clear.*Make a new home/)
  })

  it('a home deployed by the contracts that kept record content in storage is refused too: make a new home', async () => {
    // That ProviderRegistry has no activeIdOf: a contract without it stands in for one.
    await refusedWith('registry', /older medvault .*older layout.*Make a new home/)
  })
})
