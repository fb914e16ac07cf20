/**
 * Key recovery and rotation end to end on a real local chain, a real Helia store and key slips on
 * disk (issue 8's acceptance): a patient with 20 records and 2 active grants loses the key; 2 of 3
 * guardians recover; every record reads with the new key, both grants still work, the old key can
 * do nothing. Then a rotation started by the patient.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createTestClient, http } from 'viem'
import type { UnlockedAccount } from '../../src/accounts/index.js'
import { createGrant, listGrants } from '../../src/consent/grants.js'
import { unwrapKeySlip } from '../../src/consent/keySlips.js'
import { releasePendingKeys } from '../../src/records/releaseKeys.js'
import { consentRegistryAbi, medicalRecordAbi } from '../../src/contracts/index.js'
import { tagTableFor } from '../../src/consent/tagTables.js'
import { type Category, buildTagTable, categoryTag, deriveTagSecret, openTags, requiredSensitivity } from '../../src/core/index.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { AccessDeniedError, NotFoundError, WrongKeyError } from '../../src/errors.js'
import { createAccount } from '../../src/home/createAccount.js'
import { documentFromFhir, issueRecord, listRecords, readRecord } from '../../src/records/index.js'
import {
  type RecoveryStore,
  cancelRecovery,
  createFileRecoveryStore,
  getRecoveryState,
  moveTokens,
  rebuildSecrets,
  recoverAccount,
  releasePaperShare,
  releaseShare,
  rotateAccount,
  setupRecovery,
} from '../../src/recovery/index.js'
import { homePaths } from '../../src/home/config.js'
import { readRunInfo } from '../../src/home/runFile.js'
import { medvault, startMedvault } from './cli.js'
import { PASSPHRASE, type TestStack, openTestStack } from './stack.js'

const DAY = 86_400
const EXAMPLES = ['glucose.json', 'ekg.json', 'immunization.json', 'therapy-note.json']
const example = (name: string) => readFileSync(new URL(`../../examples/fhir/${name}`, import.meta.url))

describe('key recovery and rotation on a real chain', () => {
  let s: TestStack
  let store: RecoveryStore
  const mv = () => s.mv
  const a = (name: string) => s.accounts[name]!

  async function chainNow(): Promise<number> {
    return Number((await mv().publicClient.getBlock()).timestamp)
  }
  async function advance(seconds: number) {
    const test = createTestClient({ mode: 'anvil', chain: mv().chain, transport: http(mv().rpcUrl) })
    await test.increaseTime({ seconds })
    await test.mine({ blocks: 1 })
  }

  /** Keeps a moved account's tag secret in the keystore file of `name`, as the CLI does. */
  const keep = (name: string) => (tagSecret: Uint8Array) => mv().keystore.setTagSecret(name, PASSPHRASE, tagSecret)
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
  /** Each issued record's class, to check the tag the chain holds for it. */
  const classes = new Map<bigint, { category: Category; sensitivity: number }>()

  /** The chain's tag of each record is the tag of its class under `tagSecret`: the records keep their categories. */
  async function tagsResolveWith(tagSecret: Uint8Array, tokenIds: bigint[]) {
    for (const tokenId of tokenIds) {
      const [, tag] = await mv().publicClient.readContract({
        address: mv().deployment.records,
        abi: medicalRecordAbi,
        functionName: 'accessInfo',
        args: [tokenId],
      })
      const c = classes.get(tokenId)!
      assert.equal(tag, categoryTag(tagSecret, c.category, c.sensitivity), `the tag of #${tokenId}`)
    }
  }

  /** Whether every open tag of `tagSecret` is open on chain for `patient`. */
  async function openOnChain(patient: UnlockedAccount['address'], tagSecret: Uint8Array): Promise<boolean[]> {
    return Promise.all(
      openTags(buildTagTable(tagSecret)).map((tag) =>
        mv().publicClient.readContract({
          address: mv().deployment.consent,
          abi: consentRegistryAbi,
          functionName: 'isOpenTag',
          args: [patient, tag],
        }),
      ),
    )
  }

  /** Issues `count` records for `patient` under the lab's standing authorisation; returns token id → plaintext. */
  async function issueRecords(patient: string, count: number): Promise<Map<bigint, Buffer>> {
    await authorizeProvider(mv(), a(patient), a('lab').address, new Date((await chainNow()) * 1000 + 365 * DAY * 1000))
    const issued = new Map<bigint, Buffer>()
    for (let i = 0; i < count; i++) {
      const doc = documentFromFhir(example(EXAMPLES[i % EXAMPLES.length]!))
      const content = Buffer.from((doc.content as { bytes: Uint8Array }).bytes)
      const { tokenId } = await issueRecord(mv(), {
        issuer: a('lab'),
        patient: a(patient),
        content: doc.content,
        contentType: doc.contentType,
        category: doc.category,
        sensitivity: doc.sensitivity,
        consent: { standing: true },
      })
      issued.set(tokenId, content)
      classes.set(tokenId, { category: doc.category, sensitivity: doc.sensitivity | requiredSensitivity(doc.category) })
    }
    return issued
  }

  async function canRead(reader: UnlockedAccount, tokenId: bigint): Promise<boolean> {
    try {
      await readRecord(mv(), { tokenId, reader })
      return true
    } catch (error) {
      if (error instanceof AccessDeniedError) return false
      throw error
    }
  }

  const ownerOf = (tokenId: bigint) =>
    mv().publicClient.readContract({ address: mv().deployment.records, abi: medicalRecordAbi, functionName: 'ownerOf', args: [tokenId] })
  const balanceOf = (account: UnlockedAccount) =>
    mv().publicClient.readContract({
      address: mv().deployment.records,
      abi: medicalRecordAbi,
      functionName: 'balanceOf',
      args: [account.address],
    })

  before(async () => {
    s = await openTestStack({
      providers: { lab: 'Lab A' },
      others: ['alice', 'g1', 'g2', 'g3', 'doctor', 'insurer', 'bob', 'reader'],
    })
    store = createFileRecoveryStore(join(s.home, 'recovery'))
  })
  after(() => s?.dispose())

  describe('social recovery: 20 records, 2 grants, the key lost, 2 of 3 guardians', () => {
    let records: Map<bigint, Buffer>
    let tokenIds: bigint[]
    let oldAlice: UnlockedAccount
    let newAlice: UnlockedAccount
    const grantIds: bigint[] = []

    before(async () => {
      records = await issueRecords('alice', 20)
      tokenIds = [...records.keys()]
      const expiresAt = new Date((await chainNow()) * 1000 + 90 * DAY * 1000)
      for (const [grantee, terms] of [
        ['doctor', { scope: 'records', tokenIds: tokenIds.slice(0, 5) }],
        ['insurer', { scope: 'categories', categories: ['laboratory'] }],
      ] as const) {
        const { grantId } = await createGrant(mv(), {
          grantor: a('alice'),
          patient: a('alice').address,
          grantee: a(grantee).address,
          terms:
            terms.scope === 'records'
              ? { scope: 'records', tokenIds: [...terms.tokenIds] }
              : { scope: 'categories', categories: [...terms.categories] },
          expiresAt,
          purpose: 'treatment',
        })
        grantIds.push(grantId)
      }
      await releasePendingKeys(mv(), a('alice'))
      assert.equal(await canRead(a('doctor'), tokenIds[0]!), true, 'the doctor reads before the loss')
      await setupRecovery(mv(), {
        patient: a('alice'),
        guardians: ['g1', 'g2', 'g3'].map((g) => ({ kind: 'account' as const, address: a(g).address, name: g })),
        threshold: 2,
        delaySeconds: DAY,
        store,
      })
      // The device is lost: the keystore leaves the home. (The test keeps the old keys in memory to
      // play the thief who finds the device, or the owner who finds it again.)
      oldAlice = a('alice')
      assert.equal(mv().keystore.remove('alice'), true)
      await assert.rejects(mv().keystore.unlock('alice', PASSPHRASE), NotFoundError)
      await createAccount(mv(), 'alice-new', PASSPHRASE)
      newAlice = await mv().keystore.unlock('alice-new', PASSPHRASE)
    })

    it('one guardian is not enough: no recovery pending, its share alone rebuilds nothing', async () => {
      await releaseShare(mv(), { guardian: a('g1'), patient: oldAlice.address, newAccount: newAlice.address, store })
      const state = await getRecoveryState(mv(), oldAlice.address)
      assert.equal(state.pending, undefined)
      await assert.rejects(rebuildSecrets(mv(), { patient: oldAlice.address, newAccount: newAlice, store }), AccessDeniedError)
      await assert.rejects(
        recoverAccount(mv(), { patient: oldAlice.address, newAccount: newAlice, store, adoptTagSecret: keep('alice-new') }),
        AccessDeniedError,
      )
    })

    it('a stranger cannot release a share nor approve: it holds none and is no guardian', async () => {
      await assert.rejects(
        releaseShare(mv(), { guardian: a('reader'), patient: oldAlice.address, newAccount: a('reader').address, store }),
        NotFoundError,
      )
    })

    it('the second guardian starts the recovery; executing before the delay is refused', async () => {
      await releaseShare(mv(), { guardian: a('g3'), patient: oldAlice.address, newAccount: newAlice.address, store })
      const state = await getRecoveryState(mv(), oldAlice.address)
      assert.equal(state.pending?.newAccount, newAlice.address)
      await assert.rejects(
        recoverAccount(mv(), { patient: oldAlice.address, newAccount: newAlice, store, adoptTagSecret: keep('alice-new') }),
        /delay has not passed/,
      )
      for (const id of tokenIds) assert.equal(await ownerOf(id), oldAlice.address)
    })

    it('after the delay the new account recovers: 20 records re-wrapped and moved, both grants taken over', async () => {
      await advance(DAY)
      const started = performance.now()
      const result = await recoverAccount(mv(), {
        patient: oldAlice.address,
        newAccount: newAlice,
        store,
        adoptTagSecret: keep('alice-new'),
      })
      console.log(
        `# recovery of 20 records and 2 grants: ${((performance.now() - started) / 1000).toFixed(1)} s, ${result.txHashes.length} transactions`,
      )
      assert.equal(result.records, 20)
      assert.equal(result.rewrapped, 20)
      assert.deepEqual(result.grantsMoved, grantIds)
      for (const id of tokenIds) assert.equal(await ownerOf(id), newAlice.address)
      assert.equal((await getRecoveryState(mv(), oldAlice.address)).successor, newAlice.address)
    })

    it('every record reads with the new key, content intact', async () => {
      assert.deepEqual(
        (await listRecords(mv(), { patient: newAlice.address })).map((r) => r.tokenId),
        tokenIds,
      )
      for (const [tokenId, content] of records) {
        const { bytes } = await readRecord(mv(), { tokenId, reader: newAlice })
        assert.deepEqual(bytes, content, `record #${tokenId}`)
      }
    })

    it("the new account keeps the old account's category tags, publishes its open tags, and re-seals the grantee's table", async () => {
      const kept = await mv().keystore.unlock('alice-new', PASSPHRASE)
      assert.equal(hex(kept.tagSecret), hex(oldAlice.tagSecret), 'the tag secret came back from the shares')
      assert.notEqual(hex(kept.tagSecret), hex(deriveTagSecret(kept.encryptionSeed)))
      await tagsResolveWith(kept.tagSecret, tokenIds)
      assert.ok((await openOnChain(newAlice.address, kept.tagSecret)).every(Boolean), 'open tags published for the new account')
      assert.ok(
        (await openOnChain(newAlice.address, newAlice.tagSecret)).every((open) => !open),
        'the unused secret’s open tags were closed',
      )
      // The insurer's category grant moved; the table it had of the old account is sealed again for the new one.
      const insurer = { address: a('insurer').address, encryptionSeed: a('insurer').encryptionSeed, tagSecret: a('insurer').tagSecret }
      const before = await tagTableFor(mv(), { patient: oldAlice.address, reader: insurer })
      const after = await tagTableFor(mv(), { patient: newAlice.address, reader: insurer })
      assert.deepEqual(new Set(before?.map((e) => e.category)), new Set(['laboratory']), 'the category grant shared its tags')
      assert.deepEqual(after, before, 'the same classes, under the new address')
      // The doctor's grant names records, not categories: it had no table, and gets none.
      const doctor = { address: a('doctor').address, encryptionSeed: a('doctor').encryptionSeed, tagSecret: a('doctor').tagSecret }
      assert.equal(await tagTableFor(mv(), { patient: newAlice.address, reader: doctor }), undefined)
    })

    it('both grants still work for their grantees, under the new owner', async () => {
      for (const id of tokenIds.slice(0, 5)) assert.equal(await canRead(a('doctor'), id), true, `doctor reads #${id}`)
      assert.equal(await canRead(a('doctor'), tokenIds[6]!), false, 'the doctor still sees only the listed records')
      // glucose.json is every 4th record from the first: laboratory.
      assert.equal(await canRead(a('insurer'), tokenIds[0]!), true)
      assert.equal(await canRead(a('insurer'), tokenIds[4]!), true)
      assert.equal(await canRead(a('insurer'), tokenIds[3]!), false, 'not the therapy note')
      const grants = await listGrants(mv(), newAlice.address)
      assert.deepEqual(
        grants.map((g) => [g.grantId, g.active]),
        grantIds.map((id) => [id, true]),
      )
    })

    it('the old key can do nothing: owns no token, cannot grant, cannot read, cannot open the new slips, cannot cancel', async () => {
      assert.equal(await balanceOf(oldAlice), 0n)
      assert.equal(await canRead(oldAlice, tokenIds[0]!), false)
      const expiresAt = new Date((await chainNow()) * 1000 + DAY * 1000)
      await assert.rejects(
        createGrant(mv(), {
          grantor: oldAlice,
          patient: oldAlice.address,
          grantee: a('reader').address,
          terms: { scope: 'all' },
          expiresAt,
          purpose: 'other',
        }),
        /can no longer grant or revoke/,
      )
      await assert.rejects(
        createGrant(mv(), {
          grantor: oldAlice,
          patient: newAlice.address,
          grantee: a('reader').address,
          terms: { scope: 'all' },
          expiresAt,
          purpose: 'other',
        }),
        AccessDeniedError,
      )
      const slip = await mv().keySlips!.get(tokenIds[0]!, newAlice.address)
      assert.ok(slip)
      await assert.rejects(
        unwrapKeySlip(slip, { address: newAlice.address, encryptionSeed: oldAlice.encryptionSeed }, slip.cid),
        WrongKeyError,
      )
      await assert.rejects(cancelRecovery(mv(), oldAlice.chainAccount), /No recovery/)
      await assert.rejects(
        rotateAccount(mv(), { patient: oldAlice, newAccount: a('reader'), adoptTagSecret: keep('reader') }),
        /recovered or rotated/,
      )
      // Refused before anything changed: the would-be new account keeps its own tags.
      assert.equal(hex((await mv().keystore.unlock('reader', PASSPHRASE)).tagSecret), hex(a('reader').tagSecret))
    })

    it('running the recovery again changes nothing', async () => {
      const again = await recoverAccount(mv(), {
        patient: oldAlice.address,
        newAccount: newAlice,
        store,
        adoptTagSecret: keep('alice-new'),
      })
      assert.equal(again.records, 0)
      assert.equal(again.rewrapped, 0)
      assert.deepEqual(again.grantsMoved, [])
    })
  })

  describe('rotation and a paper guardian', () => {
    it('a paper sheet plus an account guardian recover, and the owner cancels a recovery it did not ask for', async () => {
      const issued = await issueRecords('reader', 2)
      const setup = await setupRecovery(mv(), {
        patient: a('reader'),
        guardians: [{ kind: 'account', address: a('g1').address }, { kind: 'paper' }],
        threshold: 2,
        delaySeconds: DAY,
        store,
      })
      assert.equal(setup.paperSheets.length, 1)
      const sheet = setup.paperSheets[0]!.sheet
      assert.match(sheet, /^mvrs1\./)
      await createAccount(mv(), 'reader-new', PASSPHRASE)
      const readerNew = await mv().keystore.unlock('reader-new', PASSPHRASE)
      await releaseShare(mv(), { guardian: a('g1'), patient: a('reader').address, newAccount: a('g2').address, store })
      // The owner still has the key and cancels a recovery to g2.
      await releasePaperShare(mv(), { sheet, newAccount: a('g2').address, submitter: a('g2').chainAccount, store })
      assert.equal((await getRecoveryState(mv(), a('reader').address)).pending?.newAccount, a('g2').address)
      await cancelRecovery(mv(), a('reader').chainAccount)
      await advance(DAY)
      await assert.rejects(
        recoverAccount(mv(), { patient: a('reader').address, newAccount: a('g2'), store, adoptTagSecret: keep('g2') }),
        /No recovery/,
      )
      // A typo in the sheet is caught by its checksum.
      await assert.rejects(
        releasePaperShare(mv(), {
          sheet: sheet.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
          newAccount: readerNew.address,
          submitter: readerNew.chainAccount,
          store,
        }),
        /checksum/,
      )
      await releaseShare(mv(), { guardian: a('g1'), patient: a('reader').address, newAccount: readerNew.address, store })
      await releasePaperShare(mv(), { sheet, newAccount: readerNew.address, submitter: readerNew.chainAccount, store })
      await advance(DAY)
      const result = await recoverAccount(mv(), {
        patient: a('reader').address,
        newAccount: readerNew,
        store,
        adoptTagSecret: keep('reader-new'),
      })
      assert.equal(result.records, 2)
      for (const [tokenId, content] of issued) assert.deepEqual((await readRecord(mv(), { tokenId, reader: readerNew })).bytes, content)
    })

    it('the patient rotates a compromised key: records, grants and reads move at once, the old key is retired', async () => {
      const issued = await issueRecords('bob', 3)
      const tokenIds = [...issued.keys()]
      const { grantId } = await createGrant(mv(), {
        grantor: a('bob'),
        patient: a('bob').address,
        grantee: a('doctor').address,
        terms: { scope: 'records', tokenIds: tokenIds.slice(0, 2) },
        expiresAt: new Date((await chainNow()) * 1000 + 30 * DAY * 1000),
        purpose: 'treatment',
      })
      await releasePendingKeys(mv(), a('bob'), { grantId })
      await createAccount(mv(), 'bob-new', PASSPHRASE)
      const bobNew = await mv().keystore.unlock('bob-new', PASSPHRASE)
      // Not by anyone else: the chain refuses to move another's tokens (ERC721IncorrectOwner).
      await assert.rejects(
        moveTokens(mv(), { mode: 'rotation', from: a('doctor').address, to: bobNew.address, sender: a('doctor').chainAccount, tokenIds }),
        /ERC721IncorrectOwner/,
      )
      assert.equal(await ownerOf(tokenIds[0]!), a('bob').address)
      const result = await rotateAccount(mv(), { patient: a('bob'), newAccount: bobNew, adoptTagSecret: keep('bob-new') })
      assert.equal(result.records, 3)
      assert.deepEqual(result.grantsMoved, [grantId])
      for (const [tokenId, content] of issued) {
        assert.equal(await ownerOf(tokenId), bobNew.address)
        assert.deepEqual((await readRecord(mv(), { tokenId, reader: bobNew })).bytes, content)
      }
      assert.equal(await canRead(a('doctor'), tokenIds[0]!), true)
      assert.equal(await canRead(a('doctor'), tokenIds[2]!), false)
      assert.equal(await canRead(a('bob'), tokenIds[0]!), false)
      assert.equal((await getRecoveryState(mv(), a('bob').address)).successor, bobNew.address)
      const kept = await mv().keystore.unlock('bob-new', PASSPHRASE)
      assert.equal(hex(kept.tagSecret), hex(a('bob').tagSecret), 'the new account keeps the old tag secret')
      await tagsResolveWith(kept.tagSecret, tokenIds)
      assert.ok((await openOnChain(bobNew.address, kept.tagSecret)).every(Boolean))
    })

    it("a guardian recovery of an account that took over another's records brings back that tag secret, not its seed's", async () => {
      const bobNew = await mv().keystore.unlock('bob-new', PASSPHRASE)
      assert.notEqual(hex(bobNew.tagSecret), hex(deriveTagSecret(bobNew.encryptionSeed)))
      const tokenIds = (await listRecords(mv(), { patient: bobNew.address })).map((r) => r.tokenId)
      await setupRecovery(mv(), {
        patient: bobNew,
        guardians: ['g1', 'g2'].map((g) => ({ kind: 'account' as const, address: a(g).address })),
        threshold: 2,
        delaySeconds: DAY,
        store,
      })
      await createAccount(mv(), 'bob-third', PASSPHRASE)
      const third = await mv().keystore.unlock('bob-third', PASSPHRASE)
      for (const g of ['g1', 'g2']) await releaseShare(mv(), { guardian: a(g), patient: bobNew.address, newAccount: third.address, store })
      const rebuilt = await rebuildSecrets(mv(), { patient: bobNew.address, newAccount: third, store })
      assert.equal(hex(rebuilt.encryptionSeed), hex(bobNew.encryptionSeed))
      assert.equal(hex(rebuilt.tagSecret), hex(a('bob').tagSecret))
      await advance(DAY)
      const result = await recoverAccount(mv(), { patient: bobNew.address, newAccount: third, store, adoptTagSecret: keep('bob-third') })
      assert.equal(result.records, 3)
      assert.equal(hex((await mv().keystore.unlock('bob-third', PASSPHRASE)).tagSecret), hex(a('bob').tagSecret))
      await tagsResolveWith(a('bob').tagSecret, tokenIds)
    })
  })
})

describe('the recovery CLI: setup, start, share (account and paper), status, execute, rotate, --json', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-recovery-cli-'))
  const work = mkdtempSync(join(tmpdir(), 'medvault-recovery-out-'))
  const mv = (...args: string[]) => medvault(home, [...args, '--json'])
  let node: Awaited<ReturnType<typeof startMedvault>> | undefined
  const ok = async (...args: string[]) => {
    const r = await mv(...args)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout} ${r.stderr}`)
    return r.json
  }
  after(async () => {
    await node?.stop()
    rmSync(home, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  })

  it('recovers a patient whose keystore is gone with one account guardian and one paper sheet, then rotates', async () => {
    node = await startMedvault(home)
    for (const name of ['lab', 'pat', 'g1', 'g2', 'doc', 'pat2', 'pat3']) await ok('account', 'create', name)
    await ok('provider', 'register', 'lab', '--name', 'Lab A')
    const first = await ok('record', 'add', fileURLToPathSafe('glucose.json'), '--patient', 'pat', '--as', 'lab')
    await ok('record', 'add', fileURLToPathSafe('ekg.json'), '--patient', 'pat', '--as', 'lab')
    await ok('grant', '--record', first.tokenId, '--to', 'doc', '--for', '30d', '--as', 'pat')

    const refused = await mv('recovery', 'setup', '--as', 'pat', '--guardians', 'g1', '--threshold', '2')
    assert.equal(refused.code, 2, 'one guardian cannot make a 2-of-n')
    const setup = await ok('recovery', 'setup', '--as', 'pat', '--guardians', 'g1,g2,paper', '--threshold', '2', '--delay', '1d')
    assert.equal(setup.threshold, 2)
    assert.equal(setup.guardians.length, 3)
    const sheet = setup.paperSheets[0].sheet as string
    assert.match(sheet, /^mvrs1\./)

    // The device is lost.
    rmSync(join(homePaths(home).accounts, 'pat.json'))
    assert.equal((await mv('record', 'get', first.tokenId, '--as', 'pat')).code, 5)

    const started = await ok('recovery', 'start', '--as', 'pat2', '--for', 'pat')
    assert.equal(started.threshold, 2)
    const shared = await ok('recovery', 'share', '--as', 'g1', '--for', 'pat')
    assert.equal(shared.pending, undefined)
    let status = await ok('recovery', 'status', '--for', 'pat')
    assert.equal(status.approvals, 1)
    assert.equal(status.sharesReleased, 1)
    const stranger = await mv('recovery', 'approve', '--as', 'doc', '--for', 'pat', '--to', 'pat2')
    assert.equal(stranger.code, 3, 'a non-guardian is refused')
    assert.match(stranger.json.error.message, /not a guardian/)

    const paper = await ok('recovery', 'share', '--as', 'pat2', '--paper', sheet, '--for', 'pat')
    assert.ok(paper.pending)
    const early = await mv('recovery', 'execute', '--as', 'pat2', '--for', 'pat')
    assert.equal(early.code, 3)
    assert.match(early.json.error.message, /delay has not passed/)

    const rpcUrl = readRunInfo(homePaths(home))!.rpcUrl
    const rpc = (method: string, params: unknown[]) =>
      fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      })
    await rpc('evm_increaseTime', [DAY])
    await rpc('evm_mine', [])
    status = await ok('recovery', 'status', '--for', 'pat')
    assert.equal(status.pending.ready, true)

    const recovered = await ok('recovery', 'execute', '--as', 'pat2', '--for', 'pat')
    assert.equal(recovered.records, 2)
    assert.equal(recovered.rewrapped, 2)
    assert.deepEqual(recovered.grantsMoved, ['1'])
    await ok('record', 'get', first.tokenId, '--as', 'pat2', '--out', join(work, 'mine.json'))
    await ok('record', 'get', first.tokenId, '--as', 'doc', '--out', join(work, 'doc.json'))
    assert.deepEqual(readFileSync(join(work, 'mine.json')), readFileSync(join(work, 'doc.json')))
    status = await ok('recovery', 'status', '--for', 'pat')
    assert.equal(status.successor, started.newAccount)

    const rotated = await ok('account', 'rotate', '--as', 'pat2', '--to', 'pat3')
    assert.equal(rotated.records, 2)
    assert.deepEqual(rotated.grantsMoved, ['1'])
    await ok('record', 'get', first.tokenId, '--as', 'pat3', '--out', join(work, 'rotated.json'))
    await ok('record', 'get', first.tokenId, '--as', 'doc', '--out', join(work, 'doc2.json'))
    const old = await mv('grant', '--all', '--to', 'doc', '--for', '1d', '--as', 'pat2')
    assert.equal(old.code, 3)
    assert.match(old.json.error.message, /can no longer grant/)
    const cancel = await mv('recovery', 'cancel', '--as', 'pat3')
    assert.equal(cancel.code, 5)
  })
})

function fileURLToPathSafe(name: string): string {
  return new URL(`../../examples/fhir/${name}`, import.meta.url).pathname
}
