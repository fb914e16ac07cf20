/**
 * The crash matrix: every crash-safe operation (rows) killed with SIGKILL at every named point it
 * passes (columns) through the real CLI (`MEDVAULT_FAULT=<operation>:<point>`), then the same
 * command run again. Each cell passes when the killed run died by SIGKILL without printing a
 * result, the re-run succeeded, the chain holds exactly one result (one token, one grant, one
 * record per bundle entry), the record reads and verifies, and the index agrees with the chain.
 *
 * One `medvault start` (one chain, one home) serves every cell: each cell has its own patient, so
 * cells cannot see each other's results, and the rows run side by side (each row has its own
 * provider, so no two rows share a nonce sequence). The table is printed at the end. The
 * `account rotate` row kills the account move that `recovery execute` shares (src/recovery/moveAccount.ts).
 * The REST API's record issue and grant have their own matrix: restCrash.int.test.ts.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Address } from 'viem'
import type { UnlockedAccount } from '../../src/accounts/index.js'
import { createGrant, listGrants, setEmergencyProvider } from '../../src/consent/grants.js'
import { releasePendingKeys } from '../../src/records/releaseKeys.js'
import { consentRegistryAbi, medicalRecordAbi } from '../../src/contracts/index.js'
import { authorizeProvider, registerProvider } from '../../src/directory/index.js'
import { createAccount } from '../../src/home/createAccount.js'
import { type Medvault, openMedvault } from '../../src/home/openMedvault.js'
import { syntheticPatientBundle } from '../../src/import/index.js'
import { openIndexStore } from '../../src/indexer/index.js'
import { documentFromFhir, getOnChainRecord, issueRecord, openRecord, verifyRecord } from '../../src/records/index.js'
import { ACCOUNT_MOVE_POINTS, getRecoveryState } from '../../src/recovery/index.js'
import { ERASE_POINTS } from '../../src/erasure/index.js'
import { OPERATION_POINTS } from '../../src/operations/index.js'
import { getGrant } from '../../src/consent/index.js'
import { buildTagTable, openTags } from '../../src/core/index.js'
import { medvault, startMedvault } from './cli.js'
import { PASSPHRASE, registrar } from './stack.js'

const POINTS = ['after-seal', 'before-send', 'after-submit', 'after-confirm', 'after-slips'] as const
type Row = 'record add' | 'import' | 'record amend' | 'grant' | 'revoke' | 'delegate' | 'emergency' | 'erase' | 'account rotate'

/**
 * Which points each operation passes. `account rotate` runs the account move that `recovery
 * execute` runs too (src/recovery/moveAccount.ts): re-wrap keys, move tokens a page at a time, take
 * over grants, re-issue grantees' key slips.
 */
const ROWS: Record<Row, readonly string[]> = {
  'record add': POINTS,
  import: ['after-seal', 'before-send', 'after-submit', 'after-confirm'],
  'record amend': POINTS,
  grant: ['before-send', 'after-submit', 'after-confirm', 'after-slips'],
  revoke: OPERATION_POINTS.revoke,
  delegate: OPERATION_POINTS.delegate,
  emergency: OPERATION_POINTS.emergency,
  erase: ERASE_POINTS,
  'account rotate': ACCOUNT_MOVE_POINTS,
}
const COLUMNS = [...new Set(Object.values(ROWS).flat())]
const results = new Map<string, boolean>()
/** `MEDVAULT_MATRIX_ROWS=grant,import` runs only those rows (while working on one operation). */
const only = process.env.MEDVAULT_MATRIX_ROWS?.split(',')
const selected = (row: string) => !only || only.includes(row)

function table(): string {
  const width = Math.max(...COLUMNS.map((p) => p.length)) + 2
  const lines = [`${'operation'.padEnd(16)}${COLUMNS.map((p) => p.padEnd(width)).join('')}`]
  for (const [row, points] of Object.entries(ROWS)) {
    const cells = COLUMNS.map((p) => {
      if (!points.includes(p)) return '–'.padEnd(width)
      const ok = results.get(`${row}|${p}`)
      return (ok === undefined ? '?' : ok ? '✓' : '✗').padEnd(width)
    })
    lines.push(`${row.padEnd(16)}${cells.join('')}`)
  }
  return lines.join('\n')
}

const glucose = JSON.parse(readFileSync(new URL('../../examples/fhir/glucose.json', import.meta.url), 'utf8'))

describe('the crash matrix: each operation killed at each point, then run again', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-crash-'))
  const work = mkdtempSync(join(tmpdir(), 'medvault-crash-files-'))
  let stop: (() => Promise<number>) | undefined
  let mv: Medvault
  const accounts: Record<string, UnlockedAccount> = {}
  const started = Date.now()

  const doc = (name: string, value: number) => {
    const path = join(work, `${name}.json`)
    writeFileSync(path, JSON.stringify({ ...glucose, id: name, valueQuantity: { ...glucose.valueQuantity, value } }))
    return path
  }
  const cellPatient = (row: string, point: string) => `${row.replace(' ', '-')}-${point}`.replace(/[^a-z-]/g, '')

  async function issuedTo(patient: Address) {
    return mv.publicClient.getContractEvents({
      address: mv.deployment.records,
      abi: medicalRecordAbi,
      eventName: 'RecordIssued',
      args: { patient },
      fromBlock: BigInt(mv.deployment.deployedAtBlock),
      toBlock: 'latest',
    })
  }

  /** The same command killed at a point, then run again to completion. */
  async function killThenRerun(args: string[], fault: string) {
    const killed = await medvault(home, [...args, '--json'], { MEDVAULT_FAULT: fault })
    assert.equal(killed.code, -1, `killed by SIGKILL at ${fault}, not exited: ${killed.stdout}${killed.stderr}`)
    assert.equal(killed.stdout, '', 'a killed run prints no result')
    const rerun = await medvault(home, [...args, '--json'])
    assert.equal(rerun.code, 0, `re-run after ${fault}: ${rerun.stdout}${rerun.stderr}`)
    return rerun.json
  }

  async function indexAgrees(patient: Address, tokens: bigint[]) {
    const store = await openIndexStore(mv.paths, mv.config)
    try {
      const indexed = await store.recordsOf(patient, { includeSuperseded: true })
      assert.deepEqual(indexed.map((r) => r.tokenId).sort(), [...tokens].sort(), 'the index holds exactly the records on chain')
    } finally {
      await store.close()
    }
  }

  async function readsAndVerifies(tokenId: bigint, reader: UnlockedAccount) {
    const verified = await verifyRecord(mv, { tokenId, reader })
    assert.equal(
      verified.valid,
      true,
      verified.checks
        .filter((c) => !c.ok)
        .map((c) => c.message)
        .join('; '),
    )
    const opened = await openRecord(mv, { tokenId, reader })
    for await (const _ of opened.content) {
      // read to the end: the commitment is checked at the end of the stream
    }
  }

  /** A record issued in-process (not under test), the way the cells set up what they then change. */
  async function issueTo(patient: UnlockedAccount, issuer: string, name: string, value: number) {
    const d = documentFromFhir(readFileSync(doc(name, value)))
    const { tokenId } = await issueRecord(mv, {
      issuer: accounts[issuer]!,
      patient,
      content: d.content,
      contentType: d.contentType,
      category: d.category,
      sensitivity: d.sensitivity,
      consent: { patient },
    })
    return tokenId
  }

  const cells: Record<Row, (point: string) => Promise<void>> = {
    async 'record add'(point) {
      const patient = accounts[cellPatient('record add', point)]!
      const json = await killThenRerun(
        ['record', 'add', doc(`add-${point}`, 100), '--patient', patient.name, '--as', 'lab-add'],
        `record-add:${point}`,
      )
      const issued = await issuedTo(patient.address)
      assert.equal(issued.length, 1, 'exactly one token for the record')
      assert.equal(issued[0]!.args.tokenId, BigInt(json.tokenId))
      await readsAndVerifies(BigInt(json.tokenId), patient)
      // Non-sensitive: the escrow's key slip was written (the step after the mint).
      assert.ok((await mv.keySlips!.holders(BigInt(json.tokenId))).includes(mv.keyRelease!.escrow.address), 'key slips written')
      await indexAgrees(patient.address, [BigInt(json.tokenId)])
    },
    async 'record amend'(point) {
      const patient = accounts[cellPatient('record amend', point)]!
      const original = { tokenId: await issueTo(patient, 'lab-amend', `orig-${point}`, 90) }
      const json = await killThenRerun(
        ['record', 'amend', String(original.tokenId), doc(`amend-${point}`, 91), '--as', 'lab-amend'],
        `record-amend:${point}`,
      )
      const issued = await issuedTo(patient.address)
      const amendments = issued.filter((l) => l.args.supersedes === original.tokenId)
      assert.equal(amendments.length, 1, 'exactly one amendment')
      assert.equal(amendments[0]!.args.tokenId, BigInt(json.tokenId))
      const old = await mv.publicClient.readContract({
        address: mv.deployment.records,
        abi: medicalRecordAbi,
        functionName: 'recordOf',
        args: [original.tokenId],
      })
      assert.equal(old.supersededBy, BigInt(json.tokenId))
      await readsAndVerifies(BigInt(json.tokenId), patient)
      await indexAgrees(patient.address, [original.tokenId, BigInt(json.tokenId)])
    },
    async grant(point) {
      const patient = accounts[cellPatient('grant', point)]!
      const tokenId = await issueTo(patient, 'lab-grant', `granted-${point}`, 80)
      const json = await killThenRerun(
        ['grant', '--record', String(tokenId), '--to', 'reader', '--for', '1h', '--as', patient.name],
        `grant:${point}`,
      )
      const created = await mv.publicClient.getContractEvents({
        address: mv.deployment.consent,
        abi: consentRegistryAbi,
        eventName: 'GrantCreated',
        args: { patient: patient.address },
        fromBlock: BigInt(mv.deployment.deployedAtBlock),
        toBlock: 'latest',
      })
      assert.equal(created.length, 1, 'exactly one grant')
      assert.equal(created[0]!.args.grantId, BigInt(json.grant.grantId))
      // The key release step ran: the grantee holds a slip and reads the record.
      assert.ok(await mv.keySlips!.get(tokenId, accounts.reader!.address), "the grantee's key slip was written")
      await readsAndVerifies(tokenId, accounts.reader!)
      const store = await openIndexStore(mv.paths, mv.config)
      try {
        // The index is a cache the server keeps in step; the grant is there once it has synced.
        for (let i = 0; i < 50 && (await store.grantsOf(patient.address)).length === 0; i++) await new Promise((r) => setTimeout(r, 100))
        assert.deepEqual(
          (await store.grantsOf(patient.address)).map((g) => g.grantId),
          [BigInt(json.grant.grantId)],
        )
      } finally {
        await store.close()
      }
    },
    async revoke(point) {
      const patient = accounts[cellPatient('revoke', point)]!
      const tokenId = await issueTo(patient, 'lab-revoke', `revoked-${point}`, 60)
      const { grantId } = await createGrant(mv, {
        grantor: patient,
        patient: patient.address,
        grantee: accounts.reader!.address,
        terms: { scope: 'records', tokenIds: [tokenId] },
        expiresAt: new Date(Date.now() + 86_400_000),
        purpose: 'treatment',
      })
      const json = await killThenRerun(['revoke', String(grantId), '--as', patient.name], `revoke:${point}`)
      assert.equal(String(json.grantId), String(grantId))
      const revoked = await mv.publicClient.getContractEvents({
        address: mv.deployment.consent,
        abi: consentRegistryAbi,
        eventName: 'GrantRevoked',
        args: { grantId },
        fromBlock: BigInt(mv.deployment.deployedAtBlock),
        toBlock: 'latest',
      })
      assert.equal(revoked.length, 1, 'revoked exactly once')
      assert.equal(revoked[0]!.transactionHash, json.txHash)
      assert.equal((await getGrant(mv, grantId)).active, false)
      assert.equal((await listGrants(mv, patient.address)).length, 1, 'exactly one grant, and no other made')
    },
    async delegate(point) {
      const patient = accounts[cellPatient('delegate', point)]!
      const json = await killThenRerun(['delegate', 'carer', '--as', patient.name], `delegate:${point}`)
      const added = await mv.publicClient.getContractEvents({
        address: mv.deployment.consent,
        abi: consentRegistryAbi,
        eventName: 'DelegateAdded',
        args: { patient: patient.address },
        fromBlock: BigInt(mv.deployment.deployedAtBlock),
        toBlock: 'latest',
      })
      assert.equal(added.length, 1, 'named exactly once')
      assert.equal(added[0]!.transactionHash, json.txHash)
      const isDelegate = await mv.publicClient.readContract({
        address: mv.deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'isDelegate',
        args: [patient.address, accounts.carer!.address],
      })
      assert.equal(isDelegate, true)
    },
    async emergency(point) {
      const patient = accounts[cellPatient('emergency', point)]!
      const json = await killThenRerun(
        ['emergency', 'open', '--patient', patient.name, '--as', 'er-doc', '--reason', `unconscious on arrival (${point})`],
        `emergency:${point}`,
      )
      const opened = await mv.publicClient.getContractEvents({
        address: mv.deployment.consent,
        abi: consentRegistryAbi,
        eventName: 'EmergencyAccessOpened',
        args: { patient: patient.address },
        fromBlock: BigInt(mv.deployment.deployedAtBlock),
        toBlock: 'latest',
      })
      assert.equal(opened.length, 1, 'opened exactly once')
      assert.equal(opened[0]!.transactionHash, json.txHash)
      // The re-run committed to the same salted reason the killed run journaled.
      assert.equal(opened[0]!.args.reasonHash, json.reasonHash)
    },
    async erase(point) {
      const patient = accounts[cellPatient('erase', point)]!
      const tokenId = await issueTo(patient, 'lab-erase', `erased-${point}`, 50)
      const { cid } = await getOnChainRecord(mv, tokenId)
      const json = await killThenRerun(['erase', String(tokenId), '--as', patient.name], `erase:${point}`)
      assert.deepEqual(
        json.records.map((r: { tokenId: string }) => String(r.tokenId)),
        [String(tokenId)],
      )
      const erased = await mv.publicClient.getContractEvents({
        address: mv.deployment.records,
        abi: medicalRecordAbi,
        eventName: 'RecordErased',
        args: { tokenId },
        fromBlock: BigInt(mv.deployment.deployedAtBlock),
        toBlock: 'latest',
      })
      assert.equal(erased.length, 1, 'marked erased exactly once')
      assert.equal((await issuedTo(patient.address)).length, 1, 'the record exists once (as a token)')
      assert.deepEqual(await mv.keySlips!.holders(tokenId), [], 'no key slip left')
      assert.equal(await mv.store.has(cid), false, 'no ciphertext left')
    },
    async 'account rotate'(point) {
      const patient = accounts[cellPatient('account rotate', point)]!
      const successor = accounts[`${cellPatient('account rotate', point)}-new`]!
      const tokens = [await issueTo(patient, 'lab-rotate', `rot1-${point}`, 70), await issueTo(patient, 'lab-rotate', `rot2-${point}`, 71)]
      const { grantId } = await createGrant(mv, {
        grantor: patient,
        patient: patient.address,
        grantee: accounts.reader!.address,
        terms: { scope: 'records', tokenIds: [tokens[0]!] },
        expiresAt: new Date(Date.now() + 86_400_000),
        purpose: 'treatment',
      })
      await releasePendingKeys(mv, patient, { grantId })
      await killThenRerun(['account', 'rotate', '--as', patient.name, '--to', successor.name], `account-move:${point}`)
      const moved = await mv.publicClient.getContractEvents({
        address: mv.deployment.records,
        abi: medicalRecordAbi,
        eventName: 'Transfer',
        args: { from: patient.address, to: successor.address },
        fromBlock: BigInt(mv.deployment.deployedAtBlock),
        toBlock: 'latest',
      })
      assert.deepEqual(moved.map((l) => l.args.id).sort(), [...tokens].sort(), 'each token moved exactly once')
      assert.equal((await getRecoveryState(mv, patient.address)).successor, successor.address, 'the old account is retired')
      const grants = (await listGrants(mv, successor.address)).filter((g) => g.active)
      assert.deepEqual(
        grants.map((g) => g.grantId),
        [grantId],
        'the grant was taken over once, same id',
      )
      for (const tokenId of tokens) await readsAndVerifies(tokenId, successor)
      await readsAndVerifies(tokens[0]!, accounts.reader!)
      // The successor took the old tag secret (sealed in its keystore) and published its open tags.
      const kept = await mv.keystore.unlock(successor.name, PASSPHRASE)
      assert.equal(Buffer.from(kept.tagSecret).toString('hex'), Buffer.from(patient.tagSecret).toString('hex'), 'the tag secret was kept')
      const openTagsSet = await mv.publicClient.getContractEvents({
        address: mv.deployment.consent,
        abi: consentRegistryAbi,
        eventName: 'OpenTagsChanged',
        args: { patient: successor.address },
        fromBlock: BigInt(mv.deployment.deployedAtBlock),
        toBlock: 'latest',
      })
      // One at its creation, one when it took the old secret over: never twice for one secret.
      assert.equal(openTagsSet.length, 2, 'open tags published exactly once for the kept secret')
      for (const tag of openTags(buildTagTable(patient.tagSecret))) {
        assert.equal(
          await mv.publicClient.readContract({
            address: mv.deployment.consent,
            abi: consentRegistryAbi,
            functionName: 'isOpenTag',
            args: [successor.address, tag],
          }),
          true,
        )
      }
    },
    async import(point) {
      const patient = accounts[cellPatient('import', point)]!
      const path = join(work, `import-${point}.json`)
      writeFileSync(
        path,
        JSON.stringify(syntheticPatientBundle({ resources: 12, seed: ROWS.import.indexOf(point) + 1, sensitiveShare: 0 })),
      )
      const json = await killThenRerun(
        ['import', path, '--patient', patient.name, '--as', 'lab-import', '--batch-size', '4'],
        `import:${point}:2`,
      )
      const issued = await issuedTo(patient.address)
      assert.equal(issued.length, json.total, 'one record per bundle entry, none twice')
      assert.equal(new Set(issued.map((l) => l.args.commitment)).size, issued.length)
      await readsAndVerifies(BigInt(json.records[0].tokenId), patient)
      // The import does not sync the index itself; the running server does, within its poll interval.
      const tokens = issued.map((l) => l.args.tokenId!)
      for (let i = 0; ; i++) {
        try {
          await indexAgrees(patient.address, tokens)
          break
        } catch (error) {
          if (i >= 50) throw error
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    },
  }

  before(async () => {
    const server = await startMedvault(home)
    stop = server.stop
    mv = await openMedvault({ home })
    const create = async (name: string) => {
      await createAccount(mv, name, PASSPHRASE)
      accounts[name] = await mv.keystore.unlock(name, PASSPHRASE)
    }
    for (const name of ['lab-add', 'lab-amend', 'lab-grant', 'lab-revoke', 'lab-erase', 'lab-import', 'lab-rotate']) {
      await create(name)
      await registerProvider(mv, registrar, { provider: accounts[name]!.address, name, encryptionKey: accounts[name]!.encryptionPublicKey })
    }
    await create('reader')
    await create('carer')
    await create('er-doc')
    await registerProvider(mv, registrar, {
      provider: accounts['er-doc']!.address,
      name: 'er-doc',
      encryptionKey: accounts['er-doc']!.encryptionPublicKey,
    })
    await setEmergencyProvider(mv, { registrar, provider: accounts['er-doc']!.address, allowed: true })
    for (const [row, points] of Object.entries(ROWS)) {
      if (!selected(row)) continue
      for (const point of points) {
        const name = cellPatient(row, point)
        await create(name)
        if (row === 'account rotate') await create(`${name}-new`)
        if (row === 'import') {
          await authorizeProvider(mv, accounts[name]!, accounts['lab-import']!.address, new Date(Date.now() + 86_400_000))
        }
      }
    }
  })

  after(async () => {
    await mv?.close()
    await stop?.()
    rmSync(home, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
    process.stdout.write(`\nCrash matrix (✓ = exactly once after SIGKILL and a re-run; – = the operation has no such point):\n${table()}\n`)
    process.stdout.write(`crash matrix: ${((Date.now() - started) / 1000).toFixed(1)} s in total\n`)
  })

  // Rows run side by side (one provider each); the points of a row one after another.
  it('every cell: killed, run again, exactly once, readable, indexed', async (t) => {
    const failures: string[] = []
    await Promise.all(
      (Object.keys(cells) as (keyof typeof cells)[]).filter(selected).map(async (row) => {
        for (const point of ROWS[row]) {
          const cellStarted = Date.now()
          try {
            await cells[row](point)
            results.set(`${row}|${point}`, true)
          } catch (error) {
            results.set(`${row}|${point}`, false)
            failures.push(`${row} × ${point}: ${error instanceof Error ? error.message : String(error)}`)
          }
          t.diagnostic(`${row} × ${point}: ${((Date.now() - cellStarted) / 1000).toFixed(1)} s`)
        }
      }),
    )
    assert.deepEqual(failures, [], `\n${table()}`)
  })

  it('a completed command run again does nothing twice: the same record', { skip: !selected('record add') }, async () => {
    const patient = accounts[cellPatient('record add', 'after-slips')]!
    const again = await medvault(home, [
      'record',
      'add',
      doc('add-after-slips', 100),
      '--patient',
      patient.name,
      '--as',
      'lab-add',
      '--json',
    ])
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json.outcome, 'done-before')
    assert.equal((await issuedTo(patient.address)).length, 1)
  })
})
