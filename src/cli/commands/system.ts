import { join } from 'node:path'
import type { Command } from 'commander'
import { readPassphrase } from '../../accounts/index.js'
import { freePort, createChainClients, deployContracts, pollingIntervalFor } from '../../chain/index.js'
import { medicalRecordAbi } from '../../contracts/index.js'
import { listProviders, registerProvider, getProvider } from '../../directory/index.js'
import { HomeError, InvalidInputError } from '../../errors.js'
import {
  type Config,
  DEFAULT_CONFIG,
  DEFAULT_ISSUER_BASE_URL,
  homePaths,
  issuerBaseUrlFor,
  loadConfig,
  resolveHome,
  saveConfig,
  createAccount,
  initHome,
  openMedvault,
  readRunInfo,
  removeRunInfo,
  writeRunInfo,
} from '../../home/index.js'
import { packageRoot } from '../../core/index.js'
import { documentFromFile, issueRecord, listRecords } from '../../records/index.js'
import { startServer } from '../../server/index.js'
import { issuerUrlReachProblem, startWellKnownServer } from '../../shc/index.js'
import { type GlobalOptions, collectList, emit } from '../output.js'
import { registrarAccount, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

const examplesDir = () => join(packageRoot(), 'examples', 'fhir')

export function systemCommands(program: Command, run: Run) {
  program
    .command('init')
    .description('Create a medvault home (embedded chain and IPFS by default)')
    .option('--rpc-url <url>', 'use an external EVM chain instead of the embedded one')
    .option('--chain-id <id>', 'chain id of the external chain')
    .option('--kubo <url>', 'use an external IPFS node through its Kubo RPC API, e.g. http://127.0.0.1:5001')
    .option(
      '--ipfs-listen <multiaddr>',
      'peer the embedded IPFS node over libp2p: `medvault ipfs serve` listens here (repeatable)',
      collectList,
    )
    .option('--ipfs-peer <multiaddr>', 'an IPFS peer to fetch from, /ip4/…/tcp/…/p2p/<peer id> (repeatable)', collectList)
    .action((opts: { rpcUrl?: string; chainId?: string; kubo?: string; ipfsListen?: string[]; ipfsPeer?: string[] }, cmd: Command) =>
      run(async (o) => {
        const paths = homePaths(resolveHome(o.home))
        if (loadConfig(paths))
          throw new InvalidInputError(`${paths.dir} is already a medvault home.`, { hint: 'Use it, or pick another --home.' })
        if (opts.rpcUrl && !opts.chainId) throw new InvalidInputError('--rpc-url needs --chain-id.')
        const config: Config = {
          ...DEFAULT_CONFIG,
          chain: opts.rpcUrl ? { kind: 'rpc', rpcUrl: opts.rpcUrl, chainId: Number(opts.chainId) } : DEFAULT_CONFIG.chain,
          storage: opts.kubo
            ? { kind: 'kubo', url: opts.kubo }
            : opts.ipfsListen || opts.ipfsPeer
              ? { kind: 'helia-peer', listen: opts.ipfsListen ?? [], peers: opts.ipfsPeer ?? [], timeoutSeconds: 30 }
              : DEFAULT_CONFIG.storage,
        }
        initHome(paths, config)
        if (config.chain.kind === 'embedded') await withMedvault(o, async () => undefined) // deploys the contracts
        const saved = loadConfig(paths)!
        emit(o, { home: paths.dir, config: saved }, () => [
          `Created a medvault home in ${paths.dir}.`,
          saved.deployment
            ? `Contracts deployed on the embedded chain: records ${saved.deployment.records}.`
            : 'Next: `medvault deploy --as ACCOUNT` to deploy the contracts on your chain.',
        ])
      }, cmd),
    )

  program
    .command('deploy')
    .description('Deploy the medvault contracts to the configured external chain and save their addresses')
    .requiredOption('--as <account>', 'a funded account; it becomes the registry admin and registrar')
    .action((opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const paths = homePaths(resolveHome(o.home))
        const config = loadConfig(paths)
        if (config?.chain.kind !== 'rpc') {
          throw new InvalidInputError('`deploy` is for external chains; the embedded chain deploys by itself.', {
            hint: 'Run `medvault init --rpc-url URL --chain-id N` first.',
          })
        }
        const { openKeystore } = await import('../../accounts/index.js')
        const account = await openKeystore(paths.accounts).unlock(opts.as, await readPassphrase(`Passphrase for ${opts.as}: `))
        const clients = createChainClients(config.chain.rpcUrl, config.chain.chainId, {
          pollingInterval: pollingIntervalFor(config.chain.rpcUrl),
        })
        const deployment = await deployContracts(clients.walletFor(account.chainAccount), clients.publicClient)
        saveConfig(paths, { ...config, deployment })
        emit(o, { deployment }, () => [
          `Deployed: registry ${deployment.registry}, records ${deployment.records} (chain ${deployment.chainId}).`,
        ])
      }, cmd),
    )

  program
    .command('start')
    .description('Run the embedded stack (chain + IPFS) in the foreground until Ctrl-C')
    .option('--port <port>', "port for the embedded chain's JSON-RPC", '8545')
    .option('--http-port <port>', "port for the health card issuers' keys and revocation lists", '8787')
    .option('--api-port <port>', 'port for the HTTP API and FHIR facade', '8788')
    .option('--api-host <host>', 'address the API listens on (0.0.0.0 to serve other machines, behind TLS)', '127.0.0.1')
    .option(
      '--public-url <url>',
      "the https URL a TLS proxy serves the API at (sign-in domain, links, HSTS; health cards' issuer URL <url>/issuers)",
    )
    .action((opts: { port: string; httpPort: string; apiPort: string; apiHost: string; publicUrl?: string }, cmd: Command) =>
      run(async (o) => {
        const home = resolveHome(o.home)
        const paths = homePaths(home)
        const running = readRunInfo(paths)
        if (running) throw new HomeError(`medvault is already running for ${home} (pid ${running.pid}, ${running.rpcUrl}).`)
        if (opts.publicUrl !== undefined) {
          if (!/^https:\/\/[^/]+/.test(opts.publicUrl)) {
            throw new InvalidInputError(`The public URL must be an https:// URL, not "${opts.publicUrl}".`, {
              hint: 'It is where a TLS-terminating proxy serves this server; leave it out when there is none.',
            })
          }
          // Saved, so `shc issue` in another process signs cards with it too; a base set by hand in config.json stays.
          const config = initHome(paths)
          if (config.healthCards.issuerBaseUrl === DEFAULT_ISSUER_BASE_URL) {
            saveConfig(paths, { ...config, healthCards: { issuerBaseUrl: issuerBaseUrlFor(opts.publicUrl) } })
          }
        }
        const wanted = Number(opts.port)
        // Asked first as well as handled at bind: a port held by another home's chain would answer
        // our start-up probe in place of the anvil we started.
        const port = (await portIsFree(wanted)) ? wanted : await freePort()
        const mv = await openMedvault({ home, port, portFallback: true, stateIntervalSeconds: 5 })
        if (mv.ownsChain) writeRunInfo(paths, { pid: process.pid, rpcUrl: mv.rpcUrl, startedAt: new Date().toISOString() })
        const wantedHttp = Number(opts.httpPort)
        const wellKnown = await startWellKnownServer(mv, {
          issuerBaseUrl: mv.config.healthCards.issuerBaseUrl,
          crlDir: mv.paths.healthCardCrls,
          port: wantedHttp,
          portFallback: true,
        })
        const wantedApi = Number(opts.apiPort)
        const api = await startServer(mv, {
          port: wantedApi,
          portFallback: true,
          host: opts.apiHost,
          ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
          passphrase: process.env.MEDVAULT_PASSPHRASE,
          logError: (line) => process.stderr.write(`${line}\n`),
        })
        const reach = issuerUrlReachProblem(mv.config.healthCards.issuerBaseUrl)
        const issuerWarning = reach
          ? `health cards issued here verify only on this machine: ${reach}. Give --public-url https://HOST (a TLS proxy in front of the API).`
          : undefined
        const [block, lastTokenId, providers] = await Promise.all([
          mv.publicClient.getBlockNumber(),
          mv.publicClient.readContract({ address: mv.deployment.records, abi: medicalRecordAbi, functionName: 'lastTokenId' }),
          listProviders(mv),
        ])
        const accounts = mv.keystore.list()
        emit(
          o,
          {
            home,
            rpcUrl: mv.rpcUrl,
            apiUrl: api.url,
            chainId: mv.chain.id,
            deployment: mv.deployment,
            block,
            records: lastTokenId,
            providers: providers.length,
            accounts: accounts.length,
            issuerBaseUrl: mv.config.healthCards.issuerBaseUrl,
            ...(issuerWarning ? { warning: issuerWarning } : {}),
          },
          () => [
            'medvault is running on the embedded default.',
            `  home       ${home}`,
            `  chain      ${mv.rpcUrl} (chain id ${mv.chain.id}, block ${block})`,
            `  contracts  registry ${mv.deployment.registry}, records ${mv.deployment.records}`,
            mv.config.storage.kind === 'helia-peer'
              ? `  ipfs       ${paths.ipfs} (Helia on disk, fetching from ${mv.config.storage.peers.length} peer(s); serve it with \`medvault ipfs serve\`)`
              : mv.config.storage.kind === 'kubo'
                ? `  ipfs       Kubo RPC at ${mv.config.storage.url}`
                : `  ipfs       ${paths.ipfs} (embedded Helia repository on disk, offline)`,
            `  portal     ${api.url}/ (the web app: import an account from ${paths.accounts})`,
            `  api        ${api.url}/api, FHIR R4 at ${api.url}/fhir, OpenAPI at ${api.url}/openapi.json (sign in with Ethereum)`,
            `  keys held  ${process.env.MEDVAULT_PASSPHRASE ? "this home's accounts that open with MEDVAULT_PASSPHRASE (the API decrypts for them)" : 'none: MEDVAULT_PASSPHRASE is not set, so API clients decrypt on their side'}`,
            `  index      ${api.index.kind === 'postgres' ? 'PostgreSQL' : paths.index} (rebuilt from the chain if deleted)`,
            `  cards      issued as ${mv.config.healthCards.issuerBaseUrl}/<provider address>; keys and revocation lists at ${wellKnown.url}/<provider address>/.well-known/ and on the API`,
            ...(issuerWarning ? [`  WARNING    ${issuerWarning}`] : []),
            `  holding    ${accounts.length} accounts, ${providers.length} providers, ${lastTokenId} records`,
            '',
            'Next, in another terminal:',
            ...(lastTokenId === 0n ? ['  npx medvault demo                          seed a lab, a clinic, a patient and records'] : []),
            "  npx medvault record list --patient alice   list a patient's records",
            '  npx medvault record get 1 --as alice       decrypt and verify one',
            '  npx medvault --help                        everything else',
            'Press Ctrl-C to stop. Everything is kept in the home.',
          ],
        )
        // Anchor the access log on the configured interval while running.
        const anchoring = setInterval(
          () => void mv.anchorAudit().catch((e: unknown) => process.stderr.write(`audit anchoring failed, will retry: ${String(e)}\n`)),
          Math.min(mv.config.audit.intervalSeconds, 60) * 1000,
        )
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve)
          process.once('SIGTERM', resolve)
        })
        clearInterval(anchoring)
        await api.close()
        await wellKnown.close()
        process.stderr.write('\nStopping: saving the chain state…\n')
        removeRunInfo(paths)
        await mv.close()
      }, cmd),
    )

  program
    .command('status')
    .description('Show where everything is and whether it is running')
    .action((_o, cmd: Command) =>
      run(async (o) => {
        const paths = homePaths(resolveHome(o.home))
        if (!loadConfig(paths)) {
          emit(o, { home: paths.dir, initialised: false }, () => [
            `No medvault home at ${paths.dir}. Run \`npm start\` or \`medvault init\`.`,
          ])
          return
        }
        const running = readRunInfo(paths)
        const result = await withMedvault(o, async (mv) => {
          const [block, lastTokenId, providers] = await Promise.all([
            mv.publicClient.getBlockNumber(),
            mv.publicClient.readContract({ address: mv.deployment.records, abi: medicalRecordAbi, functionName: 'lastTokenId' }),
            listProviders(mv),
          ])
          return {
            home: paths.dir,
            initialised: true,
            running: running ? { pid: running.pid, rpcUrl: running.rpcUrl } : undefined,
            chain: { kind: mv.config.chain.kind, chainId: mv.chain.id, block },
            storage: mv.config.storage.kind,
            deployment: mv.deployment,
            accounts: mv.keystore.list().map((a) => a.name),
            providers: providers.length,
            records: lastTokenId,
          }
        })
        emit(o, result, () => [
          `home       ${result.home}`,
          `running    ${result.running ? `yes (pid ${result.running.pid}, ${result.running.rpcUrl})` : 'no (commands start the embedded chain on demand)'}`,
          `chain      ${result.chain.kind}, chain id ${result.chain.chainId}, block ${result.chain.block}`,
          `storage    ${result.storage}`,
          `contracts  registry ${result.deployment.registry}, records ${result.deployment.records}`,
          `accounts   ${result.accounts.join(', ') || 'none'}`,
          `providers  ${result.providers}`,
          `records    ${result.records}`,
        ])
      }, cmd),
    )

  program
    .command('demo')
    .description('Seed a lab, a clinic, a patient (alice) and a few records, then show what to try')
    .action((_o, cmd: Command) =>
      run(async (o) => {
        const passphrase = await readPassphrase('Passphrase for the demo accounts (lab-a, clinic-b, alice): ')
        const result = await withMedvault(o, async (mv) => {
          if (!mv.embedded) throw new InvalidInputError('The demo runs on the embedded chain only.')
          for (const name of ['lab-a', 'clinic-b', 'alice']) {
            if (!mv.keystore.list().some((a) => a.name === name)) await createAccount(mv, name, passphrase)
          }
          const registrar = await registrarAccount(mv, undefined)
          for (const [name, display] of [
            ['lab-a', 'Lab A'],
            ['clinic-b', 'Clinic B'],
          ] as const) {
            const account = mv.keystore.get(name)
            if ((await getProvider(mv, account.address)).status === 'unregistered') {
              await registerProvider(mv, registrar, {
                provider: account.address,
                name: display,
                encryptionKey: account.encryptionPublicKey,
              })
            }
          }
          const alice = mv.keystore.get('alice')
          if ((await listRecords(mv, { patient: alice.address })).length > 0) {
            return { alice: alice.address, issued: [] as { file: string; tokenId: bigint }[] }
          }
          // Alice consents to each record here, which also shares her category tags with its issuer.
          const patientKeys = await unlock(mv, 'alice')
          const issued: { file: string; tokenId: bigint }[] = []
          const add = async (file: string, as: string, supersedes?: bigint) => {
            const doc = await documentFromFile(join(examplesDir(), file))
            const provider = await unlock(mv, as)
            const r = await issueRecord(mv, {
              issuer: provider,
              patient: alice,
              content: doc.content,
              contentType: doc.contentType,
              category: doc.category,
              sensitivity: doc.sensitivity,
              consent: { patient: patientKeys },
              ...(supersedes ? { supersedes } : {}),
            })
            issued.push({ file, tokenId: r.tokenId })
            return r.tokenId
          }
          const glucose = await add('glucose.json', 'lab-a')
          await add('immunization.json', 'clinic-b')
          await add('therapy-note.json', 'clinic-b')
          await add('glucose-corrected.json', 'lab-a', glucose)
          return { alice: alice.address, issued }
        })
        emit(o, result, () => [
          result.issued.length > 0 ? 'Demo ready:' : 'The demo was already seeded:',
          '  providers  Lab A (lab-a), Clinic B (clinic-b)',
          `  patient    alice (${result.alice})`,
          ...result.issued.map((i) => `  record #${i.tokenId}  ${i.file}`),
          '',
          'Try:',
          '  npx medvault record list --patient alice',
          '  npx medvault record get 1 --as alice            (the original glucose result; #4 amends it)',
          '  npx medvault record verify 1                    (anyone: issuer, registry, content address)',
          '  npx medvault record verify 1 --as alice         (plus issuer signature and content commitment)',
          '  npx medvault record get 1 --as lab-a            (refused: only alice may read it)',
          '  npx medvault grant --category laboratory --to lab-a --for 7d --as alice',
          '                                                   (lab-a may now read #1 and #4, never the therapy note #3)',
          '  npx medvault audit --patient alice              (every access, allowed or denied)',
          '  npx medvault grant --record 2 --to clinic-b --for 1h --as alice',
          '  npx medvault shc issue 2 --as clinic-b --patient-file examples/fhir/patient.json --out card',
          '                                                   (a SMART Health Card; then: npx medvault shc verify card.smart-health-card)',
        ])
      }, cmd),
    )
}

function portIsFree(port: number): Promise<boolean> {
  return import('node:net').then(
    ({ createServer }) =>
      new Promise((resolve) => {
        const server = createServer()
        server.once('error', () => resolve(false))
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
      }),
  )
}
