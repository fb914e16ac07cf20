/**
 * The chain, from the browser: viem clients whose transport is the server's authenticated
 * JSON-RPC relay (POST /api/rpc). Transactions are signed here with the account's key; the server
 * only passes them on.
 */
import {
  type Address,
  type Chain,
  type Hex,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  getAddress,
  parseEventLogs,
  zeroAddress,
} from 'viem'
import type { Deployment } from '../../../src/chain/deploy.js'
import { commitEmergencyReason, newReasonSalt } from '../../../src/consent/emergencyReason.js'
import { type GrantStruct, type Purpose, type Scope, grantStruct, owedEntries } from '../../../src/consent/grantTerms.js'
import { consentRegistryAbi, medicalRecordAbi } from '../../../src/contracts/index.js'
import type { Category } from '../../../src/core/categories.js'
import {
  type CategoryTag,
  type TagTable,
  buildTagTable,
  openTags,
  sealTagTable,
  tagsForCategories,
} from '../../../src/core/categoryTags.js'
import type { Api } from './api.js'

export type WebConfig = { chainId: number; contracts: { records: Address; consent: Address; registry: Address } }

class RelayError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

export type Chainside = ReturnType<typeof chainside>

/** A grant as the server's JSON gives it (src/consent/grants.ts GrantInfo; numbers as strings, times as ISO text). */
export type GrantJson = {
  grantId: string
  patient: Address
  grantee: Address
  scope: Scope
  tokenIds: string[]
  tags: Hex[]
  purpose: Purpose
  expiresAt: string
}

function bytesToBase64(bytes: Uint8Array): string {
  let text = ''
  for (const b of bytes) text += String.fromCharCode(b)
  return btoa(text)
}

export function chainside(api: Api, config: WebConfig) {
  let id = 0
  const transport = custom({
    async request({ method, params }) {
      const answer = await api.post<{ result?: unknown; error?: { code: number; message: string } }>('/api/rpc', {
        jsonrpc: '2.0',
        id: ++id,
        method,
        params: params ?? [],
      })
      if (answer.error) throw new RelayError(answer.error.code, answer.error.message)
      return answer.result
    },
  })
  const chain: Chain = defineChain({
    id: config.chainId,
    name: 'medvault',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [`${location.origin}/api/rpc`] } },
  })
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 })
  const wallet = createWalletClient({ chain, transport, account: api.account.chainAccount })
  const { records, consent } = config.contracts

  async function send(hash: Hex) {
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 250 })
    if (receipt.status !== 'success') throw new Error('The chain refused the change.')
    return receipt
  }

  // What checkAttestation reads of a deployment: the chain id and the records contract (the EIP-712 domain).
  const deployment: Deployment = { ...config.contracts, chainId: config.chainId, audit: zeroAddress, deployedAtBlock: '0' }

  return {
    config,
    deployment,
    /** The token's on-chain fields that a record's attestation and commitment are checked against (its class only as the patient's tag). */
    async record(tokenId: bigint) {
      // Storage keeps the issuer and tag; the commitment and the amended token are in the mint's event.
      const [r, issued] = await Promise.all([
        publicClient.readContract({ address: records, abi: medicalRecordAbi, functionName: 'recordOf', args: [tokenId] }),
        publicClient.getContractEvents({
          address: records,
          abi: medicalRecordAbi,
          eventName: 'RecordIssued',
          args: { tokenId },
          fromBlock: 0n,
          toBlock: 'latest',
          strict: true,
        }),
      ])
      const event = issued[0]
      if (!event) throw new Error(`Record ${tokenId} has no RecordIssued event on this chain.`)
      return {
        tokenId,
        commitment: event.args.commitment,
        issuer: getAddress(r.issuer),
        tag: r.tag.toLowerCase() as CategoryTag,
        supersedes: event.args.supersedes,
      }
    },
    /** The signed-in account's own tag table: every class of its records (src/core/categoryTags.ts). */
    ownTagTable(): TagTable {
      return buildTagTable(api.account.tagSecret)
    },
    async encryptionKeyOf(account: Address): Promise<Hex | undefined> {
      const key = await publicClient.readContract({
        address: records,
        abi: medicalRecordAbi,
        functionName: 'encryptionKeyOf',
        args: [account],
      })
      return /^0x0*$/.test(key) ? undefined : key
    },
    /**
     * Publishes the signed-in account's open (non-sensitive) category tags (ConsentRegistry.setOpenTags),
     * so "all" grants and break-glass reach its non-sensitive records, then its encryption key
     * (MedicalRecord.setEncryptionKey), so providers can seal records to it: the key last, since a
     * published key is what tells the portal the account is set up.
     */
    async publishEncryptionKey(key: Hex) {
      const open = openTags(buildTagTable(api.account.tagSecret))
      const isOpen = await Promise.all(
        open.map((tag) =>
          publicClient.readContract({
            address: consent,
            abi: consentRegistryAbi,
            functionName: 'isOpenTag',
            args: [api.account.address, tag],
          }),
        ),
      )
      const missing = open.filter((_, i) => !isOpen[i])
      if (missing.length > 0) {
        await send(
          await wallet.writeContract({ address: consent, abi: consentRegistryAbi, functionName: 'setOpenTags', args: [missing, []] }),
        )
      }
      await send(await wallet.writeContract({ address: records, abi: medicalRecordAbi, functionName: 'setEncryptionKey', args: [key] }))
    },
    /** Names the signed-in patient's guardians, how many must agree and the delay (MedicalRecord.setGuardians), as `medvault recovery setup` does. */
    async setGuardians(guardians: Address[], threshold: number, delaySeconds: number) {
      await send(
        await wallet.writeContract({
          address: records,
          abi: medicalRecordAbi,
          functionName: 'setGuardians',
          args: [guardians, threshold, delaySeconds],
        }),
      )
    },
    /** The signed-in patient's guardians on chain and how many of them must agree (MedicalRecord.guardiansOf). */
    async guardians(): Promise<{ guardians: Address[]; threshold: number }> {
      const [guardians, threshold] = await publicClient.readContract({
        address: records,
        abi: medicalRecordAbi,
        functionName: 'guardiansOf',
        args: [api.account.address],
      })
      return { guardians: [...guardians], threshold }
    },
    /** Whether grant `grantId` (with these terms, which the contract checks against its hash) covers the record. */
    grantCovers(grantId: bigint, terms: GrantStruct, tokenId: bigint): Promise<boolean> {
      return publicClient.readContract({
        address: consent,
        abi: consentRegistryAbi,
        functionName: 'grantCovers',
        args: [grantId, terms, tokenId],
      })
    },
    /**
     * Shares on chain as the signed-in patient (ConsentRegistry.grant); returns the new grant's id.
     * Categories go on chain as the patient's tags, never by name (as src/consent/grants.ts grantTags).
     */
    async grant(params: {
      grantee: Address
      scope: 'categories' | 'records' | 'all'
      categories: Category[]
      tokenIds: bigint[]
      sensitive: number
      expiresAt: Date
      purpose: Purpose
    }): Promise<{ grantId: bigint; terms: GrantStruct }> {
      const table = buildTagTable(api.account.tagSecret)
      const tags =
        params.scope === 'categories'
          ? tagsForCategories(table, params.categories, params.sensitive)
          : params.scope === 'all' && params.sensitive
            ? table.filter((e) => e.sensitivity !== 0 && (e.sensitivity & ~params.sensitive) === 0).map((e) => e.tag)
            : []
      const terms = grantStruct({
        patient: api.account.address,
        grantee: getAddress(params.grantee),
        scope: params.scope,
        tokenIds: params.scope === 'records' ? params.tokenIds : [],
        tags: [...tags].sort(),
        expiresAt: params.expiresAt,
        purpose: params.purpose,
      })
      const hash = await wallet.writeContract({ address: consent, abi: consentRegistryAbi, functionName: 'grant', args: [terms] })
      const receipt = await send(hash)
      const [created] = parseEventLogs({ abi: consentRegistryAbi, logs: receipt.logs, eventName: 'GrantCreated' })
      if (!created) throw new Error('The chain did not record the grant.')
      return { grantId: created.args.grantId, terms }
    },
    /**
     * Seals to `grantee` the classes of the signed-in patient's tags that its active grants cover
     * (src/consent/grants.ts owedEntries), and stores the sealed table on the server, so the
     * grantee can list the records it was given by category. The whole table to a provider the
     * patient authorised or accepted a record from, as a node does: a newer table replaces the
     * older, and must not give it less. Returns how many classes were sealed.
     */
    async shareGrantedTags(
      grantee: Address,
      grants: readonly { grantee: Address; scope: 'records' | 'categories' | 'all'; tags: readonly Hex[]; active: boolean }[],
      issuers: readonly Address[],
    ): Promise<number> {
      const reader = getAddress(grantee)
      const readerPublicKey = await this.encryptionKeyOf(reader)
      if (!readerPublicKey) return 0
      const patient = api.account.address
      const table = buildTagTable(api.account.tagSecret)
      const [authorised, delegate] = await Promise.all([
        publicClient.readContract({ address: records, abi: medicalRecordAbi, functionName: 'authorizationOf', args: [patient, reader] }),
        publicClient.readContract({ address: consent, abi: consentRegistryAbi, functionName: 'isDelegate', args: [patient, reader] }),
      ])
      const whole = authorised > 0n || issuers.some((i) => getAddress(i) === reader)
      const entries = whole
        ? table
        : owedEntries(
            table,
            grants.filter((g) => getAddress(g.grantee) === reader),
            { delegate },
          )
      if (entries.length === 0) return 0
      const sealed = await sealTagTable(entries, { patient, reader, readerPublicKey })
      await api.put(`/api/tag-tables/${reader}`, { sealed: bytesToBase64(sealed) })
      return entries.length
    },
    /**
     * Opens a 24-hour break-glass window on `patient` as the signed-in emergency provider
     * (ConsentRegistry.openEmergency). Only a salted commitment to the reason goes on chain, as
     * src/consent/grants.ts openEmergency does. Returns the transaction, the salt (the server keeps
     * it for the patient's report) and when the window ends.
     */
    async openEmergency(patient: Address, reason: string): Promise<{ txHash: Hex; reasonSalt: Hex; until: Date }> {
      const reasonSalt = newReasonSalt()
      const hash = await wallet.writeContract({
        address: consent,
        abi: consentRegistryAbi,
        functionName: 'openEmergency',
        args: [getAddress(patient), commitEmergencyReason(reason, reasonSalt)],
      })
      const receipt = await send(hash)
      const [opened] = parseEventLogs({ abi: consentRegistryAbi, logs: receipt.logs, eventName: 'EmergencyAccessOpened' })
      if (!opened) throw new Error('The chain did not record the emergency access.')
      return { txHash: hash, reasonSalt, until: new Date(Number(opened.args.until) * 1000) }
    },
    /** Whether the chain lets the signed-in account open emergency windows. */
    isEmergencyProvider(): Promise<boolean> {
      return publicClient.readContract({
        address: consent,
        abi: consentRegistryAbi,
        functionName: 'isEmergencyProvider',
        args: [api.account.address],
      })
    },
    /** When the signed-in provider's emergency window on `patient` ends (undefined when none is open). */
    async emergencyUntil(patient: Address): Promise<Date | undefined> {
      const until = await publicClient.readContract({
        address: consent,
        abi: consentRegistryAbi,
        functionName: 'emergencyUntil',
        args: [getAddress(patient), api.account.address],
      })
      const block = await publicClient.getBlock()
      return Number(until) > Number(block.timestamp) ? new Date(Number(until) * 1000) : undefined
    },
    /** The delegates the signed-in patient has named: from the DelegateAdded/DelegateRemoved events, each confirmed by isDelegate. */
    async delegates(): Promise<Address[]> {
      const patient = api.account.address
      const [added, removed] = await Promise.all(
        (['DelegateAdded', 'DelegateRemoved'] as const).map((eventName) =>
          publicClient.getContractEvents({ address: consent, abi: consentRegistryAbi, eventName, args: { patient }, fromBlock: 0n }),
        ),
      )
      const seen = new Set([...added!, ...removed!].map((l) => getAddress((l.args as { delegate: Address }).delegate)))
      const out: Address[] = []
      for (const delegate of seen) {
        const yes = await publicClient.readContract({
          address: consent,
          abi: consentRegistryAbi,
          functionName: 'isDelegate',
          args: [patient, delegate],
        })
        if (yes) out.push(delegate)
      }
      return out
    },
    /** Names or removes a delegate who may grant and revoke for the signed-in patient (ConsentRegistry.addDelegate/removeDelegate). */
    async setDelegate(delegate: Address, enabled: boolean) {
      await send(
        await wallet.writeContract({
          address: consent,
          abi: consentRegistryAbi,
          functionName: enabled ? 'addDelegate' : 'removeDelegate',
          args: [getAddress(delegate)],
        }),
      )
    },
    /** Ends a grant now (ConsentRegistry.revoke, with the grant's terms as the server listed them). */
    async revoke(grant: GrantJson) {
      const terms = grantStruct({
        patient: getAddress(grant.patient),
        grantee: getAddress(grant.grantee),
        scope: grant.scope,
        tokenIds: grant.tokenIds.map(BigInt),
        tags: grant.tags,
        expiresAt: new Date(grant.expiresAt),
        purpose: grant.purpose,
      })
      await send(
        await wallet.writeContract({
          address: consent,
          abi: consentRegistryAbi,
          functionName: 'revoke',
          args: [BigInt(grant.grantId), terms],
        }),
      )
    },
  }
}
