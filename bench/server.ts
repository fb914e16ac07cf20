/**
 * The server: a patient's history of N FHIR records (a synthetic Synthea-style Bundle, imported) on
 * a real anvil and Helia repository,
 *   (a) assembled, verified and decrypted through GET /fhir/Patient/{id}/$everything over a real
 *       socket, against reading and parsing the same resources as one plaintext Bundle file;
 *   (b) searched (GET /fhir/Observation?code=…&date=ge2010) over that history, warm;
 *   (c) read by a grantee under load from a second process (autocannon): GET /fhir/Observation/{id},
 *       each request checking the session, the grant on chain, and the record's signature and
 *       commitment: req/s, p50, p99, errors (which must be zero).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import type { Bundle } from '@medplum/fhirtypes'
import { createGrant } from '../src/consent/grants.js'
import { authorizeProvider, registerProvider } from '../src/directory/index.js'
import { createAccount } from '../src/home/createAccount.js'
import { openMedvault } from '../src/home/openMedvault.js'
import { importBundle, parseImportBundle, syntheticPatientBundle } from '../src/import/index.js'
import { startServer } from '../src/server/index.js'
import { privateKeyToAccount } from 'viem/accounts'
import { EMBEDDED_DEV_KEY } from '../src/chain/embedded.js'
import { createSiweMessage } from 'viem/siwe'
import type { LocalAccount } from 'viem/accounts'
import { runChild } from './child.js'
import { type Metrics, fmt, fmtInt, progress, table, tempDir } from './util.js'

export const HISTORY_RECORDS = 1000
const LOAD_SECONDS = 10
const LOAD_CONNECTIONS = 16
const PASSPHRASE = 'bench-passphrase'

/**
 * With MEDVAULT_BENCH_CPU_PROFILE=DIR, each phase's CPU profile of this (the server's) process is
 * written to DIR/<phase>.cpuprofile, so a profile shows one phase rather than the whole bench.
 */
async function profiled<T>(phase: string, fn: () => Promise<T>): Promise<T> {
  const dir = process.env.MEDVAULT_BENCH_CPU_PROFILE
  if (!dir) return fn()
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 500 })
  await session.post('Profiler.start')
  try {
    return await fn()
  } finally {
    const { profile } = await session.post('Profiler.stop')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `${phase}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
  }
}

async function signIn(baseUrl: string, account: LocalAccount): Promise<string> {
  const { nonce, domain, uri, chainId } = (await (await fetch(`${baseUrl}/auth/nonce`)).json()) as {
    nonce: string
    domain: string
    uri: string
    chainId: number
  }
  const message = createSiweMessage({ address: account.address, chainId, domain, nonce, uri, version: '1', issuedAt: new Date() })
  const res = await fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature: await account.signMessage({ message }) }),
  })
  return ((await res.json()) as { token: string }).token
}

export async function measureServer() {
  const dir = tempDir('medvault-bench-server-')
  const mv = await openMedvault({ home: dir.path })
  try {
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    const [lab, alice, cardio] = await Promise.all(
      ['lab', 'alice', 'cardio'].map(async (name) => {
        await createAccount(mv, name, PASSPHRASE)
        return mv.keystore.unlock(name, PASSPHRASE)
      }),
    )
    await registerProvider(mv, registrar, { provider: lab!.address, name: 'Bench Lab', encryptionKey: lab!.encryptionPublicKey })
    await authorizeProvider(mv, alice!, lab!.address, new Date(Date.now() + 86_400_000))
    progress(`importing a ${HISTORY_RECORDS}-resource history`)
    const bundle = syntheticPatientBundle({ resources: HISTORY_RECORDS, seed: 42, sensitiveShare: 0 })
    const bundleBytes = Buffer.from(JSON.stringify(bundle))
    const imported = await importBundle(mv, {
      issuer: lab!,
      patient: alice!,
      bundle: parseImportBundle(bundleBytes),
      journalDir: join(dir.path, 'imports'),
    })
    const observations = imported.records.filter((r) => bundle.entry![r.entry]!.resource!.resourceType === 'Observation')
    const firstToken = observations[0]!.tokenId
    await createGrant(mv, {
      grantor: alice!,
      patient: alice!.address,
      grantee: cardio!.address,
      terms: { scope: 'categories', categories: ['laboratory'] },
      expiresAt: new Date(Date.now() + 86_400_000),
      purpose: 'treatment',
    })
    const { releasePendingKeys } = await import('../src/records/index.js')
    await releasePendingKeys(mv, alice!)

    const server = await startServer(mv, { port: 0, passphrase: PASSPHRASE, limits: { requestsPerMinute: 10_000_000 } })
    try {
      const aliceToken = await signIn(server.url, alice!.chainAccount)
      const everything = async () => {
        const t0 = performance.now()
        const res = await fetch(`${server.url}/fhir/Patient/${alice!.address}/$everything`, {
          headers: { authorization: `Bearer ${aliceToken}` },
        })
        const bundle = (await res.json()) as Bundle
        const ms = performance.now() - t0
        const n = (bundle.entry?.length ?? 0) - 1 // less the Patient
        if (n !== HISTORY_RECORDS) throw new Error(`$everything returned ${n} of ${HISTORY_RECORDS} records (${res.status})`)
        return ms
      }
      // The first request verifies every signature; later ones find them in the server's verified set.
      const coldMs = await profiled('everything-cold', everything)
      const everythingMs = await profiled('everything-warm', async () =>
        Math.min(await everything(), await everything(), await everything()),
      )

      // A FHIR search over the same history, after $everything opened it: the searchable fields are in memory.
      const searchUrl = `${server.url}/fhir/Observation?code=http://loinc.org|2339-0&date=ge2010`
      const search = async () => {
        const t0 = performance.now()
        const res = await fetch(searchUrl, { headers: { authorization: `Bearer ${aliceToken}` } })
        const found = (await res.json()) as Bundle
        if (res.status !== 200 || !found.total) throw new Error(`the search found nothing (${res.status})`)
        return { ms: performance.now() - t0, total: found.total }
      }
      const searches = [await search(), await search(), await search(), await search(), await search()]
      const searchMs = Math.min(...searches.map((r) => r.ms))
      const searchTotal = searches[0]!.total

      const plainFile = join(dir.path, 'plain-bundle.json')
      writeFileSync(plainFile, bundleBytes)
      const plainTimes = Array.from({ length: 5 }, () => {
        const t0 = performance.now()
        JSON.parse(readFileSync(plainFile, 'utf8'))
        return performance.now() - t0
      })
      const plainMs = Math.min(...plainTimes)

      const cardioToken = await signIn(server.url, cardio!.chainAccount)
      // One read first, so a refused read is reported with its reason rather than as failed load.
      const probe = await fetch(`${server.url}/fhir/Observation/${firstToken}`, { headers: { authorization: `Bearer ${cardioToken}` } })
      if (probe.status !== 200) throw new Error(`the grantee's read was refused (${probe.status}): ${await probe.text()}`)
      const load = await profiled('reads', () =>
        runChild<{
          requests: number
          reqPerSec: number
          p50: number
          p99: number
          non2xx: number
          errors: number
          timeouts: number
        }>('serverLoadChild.ts', {
          args: [`${server.url}/fhir/Observation/${firstToken}`, cardioToken, String(LOAD_SECONDS), String(LOAD_CONNECTIONS)],
        }),
      )
      const failed = load.non2xx + load.errors + load.timeouts
      if (failed > 0) throw new Error(`${failed} of ${load.requests} requests under load failed`)

      const metrics: Metrics = {
        'server.everything.coldMs': {
          label: `$everything, ${HISTORY_RECORDS} records, first request`,
          value: coldMs,
          unit: 'ms',
          kind: 'info',
        },
        'server.everything.ms': {
          label: `$everything, ${HISTORY_RECORDS} records (verify + decrypt)`,
          value: everythingMs,
          unit: 'ms',
          kind: 'info',
        },
        'server.everything.recordsPerSec': {
          label: '$everything records/s',
          value: (HISTORY_RECORDS / everythingMs) * 1000,
          unit: 'records/s',
          kind: 'throughput',
        },
        'server.search.ms': {
          label: `FHIR search over ${HISTORY_RECORDS} records, warm`,
          value: searchMs,
          unit: 'ms',
          kind: 'info',
        },
        'server.plaintext.ms': {
          label: `plaintext Bundle read + parse, ${HISTORY_RECORDS} resources`,
          value: plainMs,
          unit: 'ms',
          kind: 'info',
        },
        'server.read.reqPerSec': { label: 'authenticated FHIR reads under load', value: load.reqPerSec, unit: 'req/s', kind: 'throughput' },
        'server.read.p50': { label: 'read latency p50', value: load.p50, unit: 'ms', kind: 'info' },
        'server.read.p99': { label: 'read latency p99', value: load.p99, unit: 'ms', kind: 'info' },
      }
      const report = table(
        ['measure', 'value', 'reference'],
        [
          [`$everything of ${HISTORY_RECORDS} records, first request`, `${fmt(coldMs, 0)} ms`, 'every signature and issuer status checked'],
          [
            `$everything of ${HISTORY_RECORDS} records, verified + decrypted`,
            `${fmt(everythingMs, 0)} ms`,
            `plaintext Bundle from disk: ${fmt(plainMs, 1)} ms`,
          ],
          [
            `FHIR search (Observation?code=…&date=ge2010) over ${HISTORY_RECORDS} records, warm`,
            `${fmt(searchMs, 1)} ms`,
            `${searchTotal} matches; target < 100 ms`,
          ],
          [
            `FHIR read under load (${LOAD_CONNECTIONS} conns, ${LOAD_SECONDS} s)`,
            `${fmt(load.reqPerSec, 0)} req/s`,
            `${fmtInt(load.requests)} requests, 0 errors`,
          ],
          ['  latency p50 / p99', `${load.p50} / ${load.p99} ms`, 'session + grant on chain + verify each'],
        ],
      )
      return { metrics, details: { coldMs, everythingMs, searchMs, searchTotal, plainMs, load, importSeconds: imported.seconds }, report }
    } finally {
      await server.close()
    }
  } finally {
    await mv.close()
    dir.remove()
  }
}
