import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { keccak256, toHex, type Address } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { medicalRecordAbi, providerRegistryAbi } from '../../src/contracts/index.js'
import {
  bytes32,
  consentFor,
  type Deployed,
  type Env,
  expectEvent,
  expectRevert,
  mintRequest,
  randomBytes32,
  startEnv,
  Status,
  ZERO_ADDRESS,
  ZERO_BYTES32,
} from './fixture.js'

const REGISTRAR_ROLE = keccak256(toHex('REGISTRAR_ROLE'))
const DEFAULT_ADMIN_ROLE = ZERO_BYTES32

describe('ProviderRegistry', () => {
  let env: Env
  before(async () => {
    env = await startEnv()
  })
  after(async () => {
    await env?.stop()
  })

  /** Registers a fresh address (it needs no ETH unless it sends transactions itself). */
  async function registered(d: Deployed, name = 'Lab A'): Promise<PrivateKeyAccount> {
    const provider = await env.newAccount()
    await env.mined(d.registry.write.register([provider.address, name, randomBytes32()]))
    return provider
  }

  describe('deployment', () => {
    let d: Deployed
    before(async () => {
      d = await env.deploy()
    })

    it('gives the admin DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE', async () => {
      assert.equal(await d.registry.read.REGISTRAR_ROLE(), REGISTRAR_ROLE)
      assert.equal(await d.registry.read.hasRole([DEFAULT_ADMIN_ROLE, env.admin.address]), true)
      assert.equal(await d.registry.read.hasRole([REGISTRAR_ROLE, env.admin.address]), true)
    })

    it('starts empty', async () => {
      assert.equal(await d.registry.read.providerCount(), 0n)
      const stranger = await env.newAccount()
      const entry = await d.registry.read.providerOf([stranger.address])
      assert.deepEqual(entry, { status: Status.None, registeredAt: 0n, id: 0, encryptionKey: ZERO_BYTES32, name: '' })
      assert.equal(await d.registry.read.activeIdOf([stranger.address]), 0)
      assert.equal(await d.registry.read.isActive([stranger.address]), false)
      assert.deepEqual(await d.registry.read.historyOf([stranger.address]), [])
    })
  })

  describe('register', () => {
    let d: Deployed
    before(async () => {
      d = await env.deploy()
    })

    it('adds an active provider and emits ProviderRegistered', async () => {
      const provider = await env.newAccount()
      const key = randomBytes32()
      const receipt = await env.mined(d.registry.write.register([provider.address, 'Lab A', key]))
      const at = await env.timestampOf(receipt)

      assert.deepEqual(expectEvent(receipt, providerRegistryAbi, d.registry.address, 'ProviderRegistered'), {
        provider: provider.address,
        name: 'Lab A',
        encryptionKey: key,
      })
      assert.deepEqual(await d.registry.read.providerOf([provider.address]), {
        status: Status.Active,
        registeredAt: at,
        id: 1,
        encryptionKey: key,
        name: 'Lab A',
      })
      assert.equal(await d.registry.read.isActive([provider.address]), true)
      // The registration number a record keeps instead of the issuer's address, and its way back.
      assert.equal(await d.registry.read.activeIdOf([provider.address]), 1)
      assert.equal(await d.registry.read.providerAt([0n]), provider.address)
      assert.deepEqual(await d.registry.read.historyOf([provider.address]), [{ at, status: Status.Active }])
    })

    it('accepts a name of exactly 64 bytes and non-ASCII UTF-8', async () => {
      const long = 'x'.repeat(64)
      const p1 = await registered(d, long)
      assert.equal((await d.registry.read.providerOf([p1.address])).name, long)
      const utf8 = 'Clinique Générale Zürich'
      const p2 = await registered(d, utf8)
      assert.equal((await d.registry.read.providerOf([p2.address])).name, utf8)
    })

    it('is refused to an account without REGISTRAR_ROLE', async () => {
      const outsider = await env.newAccount()
      const provider = await env.newAccount()
      await expectRevert(
        d.registryAs(outsider).write.register([provider.address, 'Lab A', randomBytes32()]),
        'AccessControlUnauthorizedAccount',
        [outsider.address, REGISTRAR_ROLE],
      )
      assert.equal(await d.registry.read.isActive([provider.address]), false)
    })

    it('is refused to a provider registering itself', async () => {
      const provider = await registered(d)
      await expectRevert(
        d.registryAs(provider).write.register([provider.address, 'Lab A', randomBytes32()]),
        'AccessControlUnauthorizedAccount',
        [provider.address, REGISTRAR_ROLE],
      )
    })

    it('is allowed to an account granted REGISTRAR_ROLE, and refused again once revoked', async () => {
      const registrar = await env.newAccount()
      await env.mined(d.registry.write.grantRole([REGISTRAR_ROLE, registrar.address]))
      const provider = await env.newAccount()
      await env.mined(d.registryAs(registrar).write.register([provider.address, 'Lab B', randomBytes32()]))
      assert.equal(await d.registry.read.isActive([provider.address]), true)

      await env.mined(d.registry.write.revokeRole([REGISTRAR_ROLE, registrar.address]))
      const other = await env.newAccount()
      await expectRevert(
        d.registryAs(registrar).write.register([other.address, 'Lab C', randomBytes32()]),
        'AccessControlUnauthorizedAccount',
        [registrar.address, REGISTRAR_ROLE],
      )
    })

    it('refuses an address that is already registered', async () => {
      const provider = await registered(d)
      await expectRevert(
        d.registry.write.register([provider.address, 'Lab A again', randomBytes32()]),
        'ProviderRegistryAlreadyRegistered',
        [provider.address],
      )
    })

    it('refuses a suspended or removed address (removed providers cannot come back)', async () => {
      const suspended = await registered(d)
      await env.mined(d.registry.write.suspend([suspended.address]))
      await expectRevert(d.registry.write.register([suspended.address, 'Lab A', randomBytes32()]), 'ProviderRegistryAlreadyRegistered', [
        suspended.address,
      ])
      const removed = await registered(d)
      await env.mined(d.registry.write.remove([removed.address]))
      await expectRevert(d.registry.write.register([removed.address, 'Lab A', randomBytes32()]), 'ProviderRegistryAlreadyRegistered', [
        removed.address,
      ])
    })

    const badNames: [string, string][] = [
      ['empty', ''],
      ['65 bytes', 'x'.repeat(65)],
      ['65 bytes of UTF-8 (33 two-byte characters)', 'é'.repeat(33)],
      ['a double quote', 'Lab "A"'],
      ['a backslash', 'Lab\\A'],
      ['a newline', 'Lab\nA'],
      ['a NUL byte', 'Lab\u0000A'],
      ['a DEL byte', 'Lab\u007fA'],
    ]
    for (const [label, name] of badNames) {
      it(`refuses a name with ${label}`, async () => {
        const provider = await env.newAccount()
        await expectRevert(d.registry.write.register([provider.address, name, randomBytes32()]), 'ProviderRegistryInvalidName')
        assert.equal((await d.registry.read.providerOf([provider.address])).status, Status.None)
      })
    }

    it('refuses a zero encryption key', async () => {
      const provider = await env.newAccount()
      await expectRevert(d.registry.write.register([provider.address, 'Lab A', ZERO_BYTES32]), 'ProviderRegistryInvalidInput')
    })

    it('refuses the zero address', async () => {
      await expectRevert(d.registry.write.register([ZERO_ADDRESS, 'Lab A', randomBytes32()]), 'ProviderRegistryInvalidInput')
    })
  })

  describe('status changes', () => {
    let d: Deployed
    before(async () => {
      d = await env.deploy()
    })

    it('suspend: emits ProviderSuspended, makes the provider inactive', async () => {
      const provider = await registered(d)
      const receipt = await env.mined(d.registry.write.suspend([provider.address]))
      assert.deepEqual(expectEvent(receipt, providerRegistryAbi, d.registry.address, 'ProviderSuspended'), {
        provider: provider.address,
      })
      assert.equal((await d.registry.read.providerOf([provider.address])).status, Status.Suspended)
      assert.equal(await d.registry.read.isActive([provider.address]), false)
    })

    it('suspend: refuses a provider that is not active, naming its current status', async () => {
      const provider = await registered(d)
      await env.mined(d.registry.write.suspend([provider.address]))
      await expectRevert(d.registry.write.suspend([provider.address]), 'ProviderRegistryInvalidStatus', [
        provider.address,
        Status.Suspended,
      ])
      await env.mined(d.registry.write.remove([provider.address]))
      await expectRevert(d.registry.write.suspend([provider.address]), 'ProviderRegistryInvalidStatus', [provider.address, Status.Removed])
    })

    it('reinstate: emits ProviderReinstated, makes a suspended provider active again', async () => {
      const provider = await registered(d)
      const before = await d.registry.read.providerOf([provider.address])
      await env.mined(d.registry.write.suspend([provider.address]))
      const receipt = await env.mined(d.registry.write.reinstate([provider.address]))
      assert.deepEqual(expectEvent(receipt, providerRegistryAbi, d.registry.address, 'ProviderReinstated'), {
        provider: provider.address,
      })
      assert.equal(await d.registry.read.isActive([provider.address]), true)
      // Reinstating restores the status only; registration time, key and name are unchanged.
      assert.deepEqual(await d.registry.read.providerOf([provider.address]), before)
    })

    it('reinstate: refuses an active or removed provider, naming its current status', async () => {
      const provider = await registered(d)
      await expectRevert(d.registry.write.reinstate([provider.address]), 'ProviderRegistryInvalidStatus', [provider.address, Status.Active])
      await env.mined(d.registry.write.remove([provider.address]))
      await expectRevert(d.registry.write.reinstate([provider.address]), 'ProviderRegistryInvalidStatus', [
        provider.address,
        Status.Removed,
      ])
    })

    it('remove: emits ProviderRemoved for an active provider', async () => {
      const provider = await registered(d)
      const receipt = await env.mined(d.registry.write.remove([provider.address]))
      assert.deepEqual(expectEvent(receipt, providerRegistryAbi, d.registry.address, 'ProviderRemoved'), {
        provider: provider.address,
      })
      assert.equal((await d.registry.read.providerOf([provider.address])).status, Status.Removed)
      assert.equal(await d.registry.read.isActive([provider.address]), false)
    })

    it('remove: works for a suspended provider', async () => {
      const provider = await registered(d)
      await env.mined(d.registry.write.suspend([provider.address]))
      const receipt = await env.mined(d.registry.write.remove([provider.address]))
      assert.deepEqual(expectEvent(receipt, providerRegistryAbi, d.registry.address, 'ProviderRemoved'), {
        provider: provider.address,
      })
      assert.equal((await d.registry.read.providerOf([provider.address])).status, Status.Removed)
    })

    it('remove: refuses a provider that is already removed, naming its current status', async () => {
      const provider = await registered(d)
      await env.mined(d.registry.write.remove([provider.address]))
      await expectRevert(d.registry.write.remove([provider.address]), 'ProviderRegistryInvalidStatus', [provider.address, Status.Removed])
      assert.equal((await d.registry.read.historyOf([provider.address])).length, 2)
    })

    for (const fn of ['suspend', 'reinstate', 'remove'] as const) {
      it(`${fn}: refuses an unknown provider`, async () => {
        const unknown = await env.newAccount()
        await expectRevert(d.registry.write[fn]([unknown.address]), 'ProviderRegistryUnknownProvider', [unknown.address])
      })

      it(`${fn}: is refused to an account without REGISTRAR_ROLE`, async () => {
        const provider = await registered(d)
        if (fn === 'reinstate') await env.mined(d.registry.write.suspend([provider.address]))
        const outsider = await env.newAccount()
        await expectRevert(d.registryAs(outsider).write[fn]([provider.address]), 'AccessControlUnauthorizedAccount', [
          outsider.address,
          REGISTRAR_ROLE,
        ])
        // A provider cannot change its own status either.
        await expectRevert(d.registryAs(provider).write[fn]([provider.address]), 'AccessControlUnauthorizedAccount', [
          provider.address,
          REGISTRAR_ROLE,
        ])
      })
    }
  })

  describe('history and wasActiveAt', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let registeredAt: bigint
    let suspendedAt: bigint
    let reinstatedAt: bigint
    let removedAt: bigint

    before(async () => {
      d = await env.deploy()
      await env.advance(100)
      provider = await env.newAccount()
      registeredAt = await env.timestampOf(await env.mined(d.registry.write.register([provider.address, 'Lab A', randomBytes32()])))
      await env.advance(100)
      suspendedAt = await env.timestampOf(await env.mined(d.registry.write.suspend([provider.address])))
      await env.advance(100)
      reinstatedAt = await env.timestampOf(await env.mined(d.registry.write.reinstate([provider.address])))
      await env.advance(100)
      removedAt = await env.timestampOf(await env.mined(d.registry.write.remove([provider.address])))
      await env.advance(100)
    })

    it('the status changes happened at distinct, increasing times', () => {
      assert.ok(registeredAt + 100n <= suspendedAt)
      assert.ok(suspendedAt + 100n <= reinstatedAt)
      assert.ok(reinstatedAt + 100n <= removedAt)
    })

    it('historyOf lists every status change, oldest first', async () => {
      assert.deepEqual(await d.registry.read.historyOf([provider.address]), [
        { at: registeredAt, status: Status.Active },
        { at: suspendedAt, status: Status.Suspended },
        { at: reinstatedAt, status: Status.Active },
        { at: removedAt, status: Status.Removed },
      ])
    })

    it('registeredAt stays the registration time', async () => {
      assert.equal((await d.registry.read.providerOf([provider.address])).registeredAt, registeredAt)
    })

    it('is false before registration', async () => {
      assert.equal(await d.registry.read.wasActiveAt([provider.address, registeredAt - 1n]), false)
      assert.equal(await d.registry.read.wasActiveAt([provider.address, 0n]), false)
    })

    it('is true from the registration second while active', async () => {
      assert.equal(await d.registry.read.wasActiveAt([provider.address, registeredAt]), true)
      assert.equal(await d.registry.read.wasActiveAt([provider.address, registeredAt + 50n]), true)
      assert.equal(await d.registry.read.wasActiveAt([provider.address, suspendedAt - 1n]), true)
    })

    it('answers for the whole second: true in the suspension second, which began active; false after it until reinstatement', async () => {
      assert.equal(await d.registry.read.wasActiveAt([provider.address, suspendedAt]), true)
      assert.equal(await d.registry.read.wasActiveAt([provider.address, suspendedAt + 1n]), false)
      assert.equal(await d.registry.read.wasActiveAt([provider.address, reinstatedAt - 1n]), false)
    })

    it('is true again after reinstatement', async () => {
      assert.equal(await d.registry.read.wasActiveAt([provider.address, reinstatedAt]), true)
      assert.equal(await d.registry.read.wasActiveAt([provider.address, removedAt - 1n]), true)
    })

    it('is false after the removal second, also for times after the last block', async () => {
      assert.equal(await d.registry.read.wasActiveAt([provider.address, removedAt]), true, 'the removal second began active')
      assert.equal(await d.registry.read.wasActiveAt([provider.address, removedAt + 1n]), false)
      assert.equal(await d.registry.read.wasActiveAt([provider.address, removedAt + 1_000_000n]), false)
      assert.equal(await d.registry.read.isActive([provider.address]), false)
    })

    it('is false for an unknown provider, and historyOf is empty', async () => {
      const unknown = await env.newAccount()
      assert.equal(await d.registry.read.wasActiveAt([unknown.address, removedAt]), false)
      assert.deepEqual(await d.registry.read.historyOf([unknown.address]), [])
    })

    it("a record minted in the same block as its issuer's suspension still shows an issuer active at its issue time", async () => {
      // Regression: the registry answered for the end of the second, so verifying such a record failed.
      const lab = await registered(d, 'Same-second Lab')
      const patient = await env.newAccount()
      const request = mintRequest(patient.address)
      let tokenId = 0n
      const { deadline, consent } = await consentFor(env, d, lab, patient, request)
      await env.testClient.setAutomine(false)
      try {
        const mint = await d.recordsAs(lab).write.mint([request, deadline, consent])
        const suspend = await d.registry.write.suspend([lab.address])
        await env.testClient.mine({ blocks: 1 })
        const [minted, suspended] = [await env.mined(mint), await env.mined(suspend)]
        assert.equal(minted.blockNumber, suspended.blockNumber)
        assert.ok(minted.transactionIndex < suspended.transactionIndex, 'the mint ran first, while the lab was active')
        tokenId = expectEvent(minted, medicalRecordAbi, d.records.address, 'RecordIssued').tokenId as bigint
      } finally {
        await env.testClient.setAutomine(true)
      }
      const issuedAt = BigInt((await d.issuedOf(tokenId)).issuedAt)
      assert.equal(await d.registry.read.isActive([lab.address]), false)
      assert.equal(await d.registry.read.wasActiveAt([lab.address, issuedAt]), true)
      assert.equal(await d.registry.read.wasActiveAt([lab.address, issuedAt + 1n]), false)
    })

    it('a provider still active answers true for any time since registration', async () => {
      const other = await registered(d)
      const at = (await d.registry.read.providerOf([other.address])).registeredAt
      assert.equal(await d.registry.read.wasActiveAt([other.address, at - 1n]), false)
      assert.equal(await d.registry.read.wasActiveAt([other.address, at]), true)
      assert.equal(await d.registry.read.wasActiveAt([other.address, 2n ** 64n - 1n]), true)
    })
  })

  describe('providerCount and providerAt', () => {
    let d: Deployed
    const addresses: Address[] = []
    before(async () => {
      d = await env.deploy()
      for (const name of ['Lab A', 'Hospital B', 'Pharmacy C']) addresses.push((await registered(d, name)).address)
    })

    it('counts every provider ever registered and lists them in registration order', async () => {
      assert.equal(await d.registry.read.providerCount(), 3n)
      for (const [i, address] of addresses.entries()) {
        assert.equal(await d.registry.read.providerAt([BigInt(i)]), address)
      }
    })

    it('keeps removed providers listed', async () => {
      await env.mined(d.registry.write.remove([addresses[1]!]))
      assert.equal(await d.registry.read.providerCount(), 3n)
      assert.equal(await d.registry.read.providerAt([1n]), addresses[1])
    })

    it('does not count refused registrations', async () => {
      await expectRevert(d.registry.write.register([addresses[0]!, 'Lab A', randomBytes32()]), 'ProviderRegistryAlreadyRegistered', [
        addresses[0],
      ])
      assert.equal(await d.registry.read.providerCount(), 3n)
    })

    it('reverts past the end with an array out-of-bounds panic', async () => {
      await expectRevert(d.registry.read.providerAt([3n]), 'Panic', [0x32n])
    })
  })

  describe('updateProfile', () => {
    let d: Deployed
    before(async () => {
      d = await env.deploy()
    })

    it('lets an active provider change its name and key, emitting ProviderProfileUpdated', async () => {
      const provider = await registered(d, 'Lab A')
      const before = await d.registry.read.providerOf([provider.address])
      const key = bytes32(0xabcdef)
      const receipt = await env.mined(d.registryAs(provider).write.updateProfile(['Lab A (Downtown)', key]))
      assert.deepEqual(expectEvent(receipt, providerRegistryAbi, d.registry.address, 'ProviderProfileUpdated'), {
        provider: provider.address,
        name: 'Lab A (Downtown)',
        encryptionKey: key,
      })
      assert.deepEqual(await d.registry.read.providerOf([provider.address]), {
        status: Status.Active,
        registeredAt: before.registeredAt,
        id: before.id,
        encryptionKey: key,
        name: 'Lab A (Downtown)',
      })
      // A profile change is not a status change.
      assert.equal((await d.registry.read.historyOf([provider.address])).length, 1)
    })

    it('is refused to an address that is not a provider', async () => {
      const stranger = await env.newAccount()
      await expectRevert(d.registryAs(stranger).write.updateProfile(['Fake Lab', randomBytes32()]), 'ProviderRegistryInvalidStatus', [
        stranger.address,
        Status.None,
      ])
    })

    it('is refused to the registrar on behalf of nobody (it updates the caller only)', async () => {
      await expectRevert(d.registry.write.updateProfile(['Registrar', randomBytes32()]), 'ProviderRegistryInvalidStatus', [
        env.admin.address,
        Status.None,
      ])
    })

    it('is refused to a suspended or removed provider', async () => {
      const provider = await registered(d)
      await env.mined(d.registry.write.suspend([provider.address]))
      await expectRevert(d.registryAs(provider).write.updateProfile(['Lab A', randomBytes32()]), 'ProviderRegistryInvalidStatus', [
        provider.address,
        Status.Suspended,
      ])
      await env.mined(d.registry.write.remove([provider.address]))
      await expectRevert(d.registryAs(provider).write.updateProfile(['Lab A', randomBytes32()]), 'ProviderRegistryInvalidStatus', [
        provider.address,
        Status.Removed,
      ])
    })

    it('refuses a zero key and an invalid name', async () => {
      const provider = await registered(d, 'Lab A')
      await expectRevert(d.registryAs(provider).write.updateProfile(['Lab A', ZERO_BYTES32]), 'ProviderRegistryInvalidInput')
      await expectRevert(d.registryAs(provider).write.updateProfile(['', randomBytes32()]), 'ProviderRegistryInvalidName')
      await expectRevert(d.registryAs(provider).write.updateProfile(['Lab "A"', randomBytes32()]), 'ProviderRegistryInvalidName')
      await expectRevert(d.registryAs(provider).write.updateProfile(['y'.repeat(65), randomBytes32()]), 'ProviderRegistryInvalidName')
      assert.equal((await d.registry.read.providerOf([provider.address])).name, 'Lab A')
    })
  })

  describe('addHealthCardKey', () => {
    let d: Deployed
    before(async () => {
      d = await env.deploy()
    })

    it('lets an active provider publish SMART Health Card keys, keeping old ones, with HealthCardKeyAdded', async () => {
      const provider = await registered(d)
      const first = [bytes32(1), bytes32(2)] as const
      const second = [bytes32(3), bytes32(4)] as const
      const receipt = await env.mined(d.registryAs(provider).write.addHealthCardKey([...first]))
      assert.deepEqual(expectEvent(receipt, providerRegistryAbi, d.registry.address, 'HealthCardKeyAdded'), {
        provider: provider.address,
        x: first[0],
        y: first[1],
      })
      await env.mined(d.registryAs(provider).write.addHealthCardKey([...second]))
      const keys = await d.registry.read.healthCardKeysOf([provider.address])
      assert.deepEqual(
        keys.map((k) => [k.x, k.y]),
        [[...first], [...second]],
      )
    })

    it('refuses a suspended or unknown provider and a zero key', async () => {
      const provider = await registered(d)
      await expectRevert(d.registryAs(provider).write.addHealthCardKey([ZERO_BYTES32, bytes32(1)]), 'ProviderRegistryInvalidInput')
      await expectRevert(d.registryAs(provider).write.addHealthCardKey([bytes32(1), ZERO_BYTES32]), 'ProviderRegistryInvalidInput')
      assert.equal((await d.registry.read.healthCardKeysOf([provider.address])).length, 0)
      await env.mined(d.registry.write.suspend([provider.address]))
      await expectRevert(d.registryAs(provider).write.addHealthCardKey([bytes32(1), bytes32(2)]), 'ProviderRegistryInvalidStatus', [
        provider.address,
        Status.Suspended,
      ])
      const stranger = await env.newAccount()
      await expectRevert(d.registryAs(stranger).write.addHealthCardKey([bytes32(1), bytes32(2)]), 'ProviderRegistryInvalidStatus', [
        stranger.address,
        Status.None,
      ])
    })
  })
})
