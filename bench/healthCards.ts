/**
 * SMART Health Cards with src/shc:
 *   (a) issueHealthCard of a small Immunization bundle (Patient name + birthDate, one Immunization
 *       with a CVX code) under a generateIssuerKey() key: cards/s;
 *   (b) verifyHealthCard offline, the issuer resolved from a VCI directory snapshot (a temp file
 *       holding the issuer's public JWK) loaded once with vciDirectoryTrust: verifications/s;
 *   (c) verifyHealthCard online on a real anvil (throwaway, no state file): a provider registered
 *       by the embedded registrar publishes its card key with ProviderRegistry.addHealthCardKey and
 *       cards carry its medvault issuer URL; registryTrust resolves the issuer, so every verification
 *       includes the registry reads (provider status and its card keys): verifications/s.
 * Every verdict must be valid, or the section fails. One untimed warm-up call precedes each series.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Bundle } from '@medplum/fhirtypes'
import { randomBytes } from 'node:crypto'
import { type Hex, createTestClient, http, keccak256, parseEther, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { EMBEDDED_DEV_KEY } from '../src/chain/embedded.js'
import { providerRegistryAbi } from '../src/contracts/index.js'
import { registerProvider } from '../src/directory/index.js'
import { type EmbeddedChain, createChainClients, deployContracts, startAnvil } from '../src/index.js'
import {
  type IssuedHealthCard,
  type VerifyOptions,
  generateIssuerKey,
  healthCardKeyFromSeed,
  issueHealthCard,
  medvaultIssuerUrl,
  registryTrust,
  vciDirectoryTrust,
  verifyHealthCard,
} from '../src/shc/index.js'
import { type Metrics, fmt, fmtInt, progress, table, tempDir } from './util.js'

export const ISSUE_CARDS = 200
export const VERIFY_OFFLINE = 200
export const VERIFY_ONLINE = 100
const OFFLINE_ISS = 'https://issuer.medvault-bench.example'
const ONLINE_BASE = 'https://localhost/medvault/issuers'

type Series = { key: string; label: string; count: number; ms: number; unit: string }
export type HealthCardDetails = { series: Series[]; jwsLength: number }

const since = (t0: number) => performance.now() - t0

function immunizationBundle(): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
        resource: { resourceType: 'Patient', name: [{ family: 'Anyperson', given: ['Jane'] }], birthDate: '1961-01-20' },
      },
      {
        fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222',
        resource: {
          resourceType: 'Immunization',
          status: 'completed',
          vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }] },
          patient: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
          occurrenceDateTime: '2021-01-01',
        },
      },
    ],
  }
}

/** Verifies `cards` one after another; throws on the first invalid verdict. */
async function verifyAll(cards: readonly IssuedHealthCard[], opts: VerifyOptions): Promise<void> {
  for (const card of cards) {
    const verdict = await verifyHealthCard(card.jws, opts)
    if (!verdict.valid) {
      const failed = verdict.checks.filter((c) => !c.ok).map((c) => `${c.id}: ${c.message}`)
      throw new Error(`verifyHealthCard: card not valid (${failed.join('; ')})`)
    }
  }
}

export async function measureHealthCards(): Promise<{ metrics: Metrics; details: HealthCardDetails; report: string }> {
  const dir = tempDir('shc')
  let chain: EmbeddedChain | undefined
  try {
    const details: HealthCardDetails = { series: [], jwsLength: 0 }
    const bundle = immunizationBundle()

    // ------------------------------------------------------------ (a) issuing
    const key = await generateIssuerKey()
    const issue = () => issueHealthCard({ bundle, issuerUrl: OFFLINE_ISS, privateJwk: key.privateJwk })
    await issue()
    progress(`health cards: issuing ${ISSUE_CARDS} cards`)
    const cards: IssuedHealthCard[] = []
    let t0 = performance.now()
    for (let i = 0; i < ISSUE_CARDS; i++) cards.push(await issue())
    details.series.push({ key: 'issue', label: 'issueHealthCard', count: ISSUE_CARDS, ms: since(t0), unit: 'cards/s' })
    details.jwsLength = cards[0]!.jws.length

    // ------------------------------------------------------------ (b) verifying offline
    const snapshot = join(dir.path, 'vci-snapshot.json')
    writeFileSync(snapshot, JSON.stringify({ issuerInfo: [{ issuer: { iss: OFFLINE_ISS, name: 'Bench Issuer' }, keys: [key.publicJwk] }] }))
    const offline = await vciDirectoryTrust(snapshot)
    const offlineOpts: VerifyOptions = { resolveIssuer: (iss) => offline.resolve(iss) }
    await verifyAll(cards.slice(0, 1), offlineOpts)
    progress(`health cards: verifying ${VERIFY_OFFLINE} cards offline (VCI directory snapshot)`)
    const offlineCards = Array.from({ length: VERIFY_OFFLINE }, (_, i) => cards[i % cards.length]!)
    t0 = performance.now()
    await verifyAll(offlineCards, offlineOpts)
    details.series.push({
      key: 'verifyOffline',
      label: 'verifyHealthCard, offline (VCI snapshot)',
      count: VERIFY_OFFLINE,
      ms: since(t0),
      unit: 'verifications/s',
    })

    // ------------------------------------------------------------ (c) verifying online
    progress('health cards: starting anvil, deploying, registering a provider and publishing its card key')
    chain = await startAnvil()
    const clients = createChainClients(chain.rpcUrl, chain.chainId, { pollingInterval: 10 })
    const { publicClient } = clients
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    const deployment = await deployContracts(clients.walletFor(registrar), publicClient)
    const ctx = { publicClient, walletFor: clients.walletFor, deployment }
    const testClient = createTestClient({ mode: 'anvil', chain: clients.chain, transport: http(chain.rpcUrl) })
    const provider = privateKeyToAccount(generatePrivateKey())
    await testClient.setBalance({ address: provider.address, value: parseEther('100') })
    await registerProvider(ctx, registrar, {
      provider: provider.address,
      name: 'Bench Card Issuer',
      encryptionKey: keccak256(toHex('bench card issuer key')),
    })
    const cardKey = await healthCardKeyFromSeed(randomBytes(32))
    const hash = await clients.walletFor(provider).writeContract({
      address: deployment.registry,
      abi: providerRegistryAbi,
      functionName: 'addHealthCardKey',
      args: [cardKey.x as Hex, cardKey.y as Hex],
    })
    const added = await publicClient.waitForTransactionReceipt({ hash })
    if (added.status !== 'success') throw new Error(`addHealthCardKey ${hash} reverted`)
    const issuerUrl = medvaultIssuerUrl(ONLINE_BASE, provider.address)
    const onlineCards: IssuedHealthCard[] = []
    for (let i = 0; i < VERIFY_ONLINE; i++) onlineCards.push(await issueHealthCard({ bundle, issuerUrl, privateJwk: cardKey.privateJwk }))
    const online = registryTrust({ publicClient, deployment }, ONLINE_BASE)
    const onlineOpts: VerifyOptions = { resolveIssuer: (iss) => online.resolve(iss) }
    await verifyAll(onlineCards.slice(0, 1), onlineOpts)
    progress(`health cards: verifying ${VERIFY_ONLINE} cards online (registryTrust, registry reads per card)`)
    t0 = performance.now()
    await verifyAll(onlineCards, onlineOpts)
    details.series.push({
      key: 'verifyOnline',
      label: 'verifyHealthCard, online (registryTrust)',
      count: VERIFY_ONLINE,
      ms: since(t0),
      unit: 'verifications/s',
    })

    // ------------------------------------------------------------ metrics and report
    const rate = (s: Series) => s.count / (s.ms / 1000)
    const metrics: Metrics = {}
    for (const s of details.series) {
      metrics[`throughput.shc.${s.key}`] = {
        label: `${s.label}, ${fmtInt(s.count)} cards`,
        value: rate(s),
        unit: s.unit,
        kind: 'throughput',
      }
    }
    const rows = details.series.map((s) => [s.label, fmtInt(s.count), fmt(s.ms), fmt(s.ms / s.count, 3), `${fmt(rate(s))} ${s.unit}`])
    const report = [
      `Immunization card (Patient + 1 Immunization, CVX 207), ES256; JWS ${fmtInt(details.jwsLength)} characters.`,
      `Online: anvil ${chain.rpcUrl}, chain ${chain.chainId}; each verification reads the provider and its card keys from ProviderRegistry.`,
      '',
      table(['operation', 'cards', 'total (ms)', 'ms/card', 'rate'], rows),
    ].join('\n')
    return { metrics, details, report }
  } finally {
    await chain?.stop().catch(() => undefined)
    dir.remove()
  }
}
