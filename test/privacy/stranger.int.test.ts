/**
 * Acceptance (issue 22): a stranger with only an RPC URL cannot read anyone's care from the chain.
 *
 * A run in a fresh home (real anvil, real Helia) issues mental-health, substance-use, laboratory and
 * immunization records to two patients, grants a second provider some of each patient's records by
 * category, and opens a break-glass window with a stated reason. Then a stranger, holding nothing but
 * the RPC URL and the contracts' public ABIs (the sources are public), reads everything:
 * - every block, transaction, receipt, log, account's code and storage slot (anvil's state dump);
 * - every log and every transaction's calldata, decoded with every medvault ABI;
 * - every view of every medvault contract that takes one token or grant id, for every id, tokenURI included.
 * It must not find a category's name in any encoding, a field named after categories, sensitivity
 * or reasons, the reason itself or its plain hash, nor any field whose values match across the two
 * patients exactly when their records (or grants) share a category or a sensitivity: each record
 * and grant carries only a tag blinded per patient (core/categoryTags.ts), so two patients' records
 * of one category are unlinkable. (docs/privacy.md, "What remains visible", lists what a stranger
 * does learn: issuers, times, counts, which of one patient's records share a tag, which are open.)
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Hex, keccak256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { EMBEDDED_DEV_KEY } from '../../src/chain/embedded.js'
import {
  type Category,
  type Medvault,
  type UnlockedAccount,
  CATEGORIES,
  authorizeProvider,
  createAccount,
  issueRecord,
  openMedvault,
  registerProvider,
} from '../../src/index.js'
import { canAccess as canAccessOnChain, createGrant, openEmergency, setEmergencyProvider } from '../../src/consent/index.js'
import { consentRegistryAbi } from '../../src/contracts/index.js'
import { type Needle, collectChain, formatFindings, scanSnapshot } from '../integration/chainScan.js'
import { type StrangerRead, giveaways, readAsStranger } from './strangerRead.js'

const PASSPHRASE = 'correct-horse-battery'
const REASON = 'unconscious after a fall, suspected overdose of opioids'
const ISSUED: Category[] = ['mental-health', 'substance-use', 'laboratory', 'immunization']
const SENSITIVE: ReadonlySet<Category> = new Set(['mental-health', 'substance-use'])
const GRANTS: Category[][] = [['laboratory', 'immunization'], ['mental-health']]

describe('A stranger with an RPC URL reads no care from the chain', () => {
  let home: string
  let mv: Medvault
  let rpcUrl: string
  const tokenClass = new Map<bigint, { patient: 'A' | 'B'; category: Category }>()
  const grantClass = new Map<bigint, { patient: 'A' | 'B'; categories: Category[] }>()
  let reasonHash: Hex

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'medvault-stranger-'))
    mv = await openMedvault({ home })
    for (const name of ['clinic', 'er', 'alice', 'bob']) await createAccount(mv, name, PASSPHRASE)
    const unlock = (name: string): Promise<UnlockedAccount> => mv.keystore.unlock(name, PASSPHRASE)
    const clinic = await unlock('clinic')
    const er = await unlock('er')
    const patients = { A: await unlock('alice'), B: await unlock('bob') }
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    await registerProvider(mv, registrar, {
      provider: clinic.address,
      name: 'Riverside Addiction Clinic',
      encryptionKey: clinic.encryptionPublicKey,
    })
    await registerProvider(mv, registrar, { provider: er.address, name: 'City Hospital ER', encryptionKey: er.encryptionPublicKey })
    await setEmergencyProvider(mv, { registrar, provider: er.address, allowed: true })

    for (const [label, patient] of Object.entries(patients) as ['A' | 'B', UnlockedAccount][]) {
      for (const [i, category] of ISSUED.entries()) {
        // One by signature, the rest by standing authorisation, so both mint paths are read.
        if (i === 1) await authorizeProvider(mv, patient, clinic.address, new Date(Date.now() + 24 * 3600 * 1000))
        const { tokenId } = await issueRecord(mv, {
          issuer: clinic,
          patient,
          content: { bytes: randomBytes(200) },
          contentType: 'application/octet-stream',
          category,
          consent: i === 0 ? { patient } : { standing: true },
        })
        tokenClass.set(tokenId, { patient: label, category })
      }
      for (const categories of GRANTS) {
        const { grantId } = await createGrant(mv, {
          grantor: patient,
          patient: patient.address,
          grantee: er.address,
          terms: { scope: 'categories', categories },
          expiresAt: new Date(Date.now() + 30 * 24 * 3600 * 1000),
          purpose: 'treatment',
        })
        grantClass.set(grantId, { patient: label, categories })
      }
    }
    ;({ reasonHash } = await openEmergency(mv, { provider: er.chainAccount, patient: patients.A.address, reason: REASON }))
    rpcUrl = mv.rpcUrl
  })

  after(async () => {
    await mv?.close()
    if (home) rmSync(home, { recursive: true, force: true })
  })

  it('finds no category name, reason, or plain reason hash anywhere: storage, code, blocks, calldata, logs, receipts', async (t) => {
    const snapshot = await collectChain(rpcUrl)
    assert.ok(snapshot.counts.storageSlots > 40 && snapshot.counts.logs > 20, JSON.stringify(snapshot.counts))
    const needles: Needle[] = [
      ...CATEGORIES.map((c) => ({ label: `category name "${c}"`, value: c })),
      { label: 'break-glass reason', value: REASON },
      { label: 'keccak256 of the reason', bytes: Buffer.from(keccak256(toHex(REASON)).slice(2), 'hex') },
      { label: 'sha256 of the reason', bytes: createHash('sha256').update(REASON).digest() },
    ]
    const findings = scanSnapshot(snapshot, needles)
    t.diagnostic(`scanned ${JSON.stringify(snapshot.counts)}`)
    assert.equal(findings.length, 0, `care found on chain:\n${formatFindings(findings)}`)
    assert.ok(reasonHash, 'the break-glass window was opened')
  })

  let read: StrangerRead | undefined
  const strangerRead = async (): Promise<StrangerRead> => {
    read ??= await readAsStranger(rpcUrl, { tokenClass, grantClass, sensitive: SENSITIVE })
    return read
  }

  it('reads every tokenURI, and none says more than number, issuer, date and status', async () => {
    const r = await strangerRead()
    assert.equal(r.tokenUris, ISSUED.length * 2, 'the stranger read every tokenURI')
    assert.equal(r.records.length, ISSUED.length * 2)
    assert.equal(r.grants.length, GRANTS.length * 2)
    assert.deepEqual(r.tokenUriProblems, [])
  })

  it("cannot tell any record's or grant's category or sensitivity from the logs", async () => {
    assert.deepEqual(giveaways(await strangerRead(), ['log']), [])
  })

  it("cannot tell any record's or grant's category or sensitivity from calldata or stored state (views)", async () => {
    assert.deepEqual(giveaways(await strangerRead(), ['calldata', 'view']), [])
  })

  it('ran the real scenario: open tags on chain, the grants and the break-glass window cover what they should and no more', async () => {
    // The grants are found in their events and each judged by the contract (canAccessWith).
    const canAccess = (reader: `0x${string}`, tokenId: bigint) => canAccessOnChain(mv, reader, tokenId)
    const er = mv.keystore.get('er').address
    const token = (patient: 'A' | 'B', category: Category) =>
      [...tokenClass].find(([, c]) => c.patient === patient && c.category === category)![0]
    // Granted by category: laboratory and immunization, and mental health named on its own.
    for (const patient of ['A', 'B'] as const) {
      for (const category of ['laboratory', 'immunization', 'mental-health'] as const)
        assert.equal(await canAccess(er, token(patient, category)), true)
    }
    // Substance use was granted to no one: neither the grants nor A's break-glass window reach it,
    // since break-glass covers open (non-sensitive) tags only.
    assert.equal(await canAccess(er, token('A', 'substance-use')), false)
    assert.equal(await canAccess(er, token('B', 'substance-use')), false)
    // Each patient's open tags are on chain, published when the account was created.
    const opened = await mv.publicClient.getContractEvents({
      address: mv.deployment.consent,
      abi: consentRegistryAbi,
      eventName: 'OpenTagsChanged',
      fromBlock: 0n,
      toBlock: 'latest',
    })
    for (const name of ['alice', 'bob']) {
      const address = mv.keystore.get(name).address
      assert.ok(
        opened.some((l) => l.args.patient === address && (l.args.opened?.length ?? 0) > 0),
        `${name} published open tags`,
      )
    }
  })
})
