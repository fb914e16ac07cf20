import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from 'viem'
import {
  archiveAnchorAbi,
  archiveAnchorBytecode,
  auditAnchorAbi,
  auditAnchorBytecode,
  consentRegistryAbi,
  consentRegistryBytecode,
  medicalRecordAbi,
  medicalRecordBytecode,
  providerRegistryAbi,
  providerRegistryBytecode,
  researchMarketAbi,
  researchMarketBytecode,
} from '../contracts/index.js'
import { confirmDeployment, deployAndWait, sendDeployment } from './write.js'

export type Deployment = {
  chainId: number
  registry: Address
  records: Address
  consent: Address
  audit: Address
  /** ResearchMarket; absent in homes deployed before the research market existed. */
  research?: Address | undefined
  /** ArchiveAnchor; absent in homes deployed before it existed (`medvault archive deploy` adds it). */
  archive?: Address | undefined
  deployedAtBlock: string
}

export type DeployContractsParameters = {
  /** Holds DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE on the registry. Defaults to the deployer. */
  admin?: Address
}

/**
 * Deploys ProviderRegistry, MedicalRecord, ConsentRegistry, AuditAnchor, ResearchMarket and ArchiveAnchor and waits for their receipts.
 */
export async function deployContracts(
  wallet: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  params: DeployContractsParameters = {},
): Promise<Deployment> {
  const admin = params.admin ?? wallet.account.address
  const registry = await deployAndWait(wallet, publicClient, 'ProviderRegistry', {
    abi: providerRegistryAbi,
    bytecode: providerRegistryBytecode,
    args: [admin],
  })
  const records = await deployAndWait(wallet, publicClient, 'MedicalRecord', {
    abi: medicalRecordAbi,
    bytecode: medicalRecordBytecode,
    args: [registry.address],
  })
  const consentHash = await sendDeployment(wallet, {
    abi: consentRegistryAbi,
    bytecode: consentRegistryBytecode,
    args: [records.address, registry.address],
  })
  const auditHash = await sendDeployment(wallet, { abi: auditAnchorAbi, bytecode: auditAnchorBytecode })
  // One send after another: a wallet without medvault's nonce management (any viem wallet a caller
  // passes) takes each nonce from the node, and concurrent sends would take the same one.
  const research = await deployResearchMarket(wallet, publicClient, { registry: registry.address, records: records.address })
  const archive = await deployArchiveAnchor(wallet, publicClient, registry.address)
  const [consent, audit] = await Promise.all([
    confirmDeployment(publicClient, 'ConsentRegistry', consentHash),
    confirmDeployment(publicClient, 'AuditAnchor', auditHash),
  ])
  return {
    chainId: wallet.chain.id,
    registry: registry.address,
    records: records.address,
    consent: consent.address,
    audit: audit.address,
    research,
    archive,
    deployedAtBlock: registry.receipt.blockNumber.toString(),
  }
}

/**
 * Deploys ResearchMarket next to an existing registry and record contract (for a new deployment,
 * or a home deployed before the research market existed). Returns its address.
 */
export async function deployResearchMarket(
  wallet: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  deployment: Pick<Deployment, 'registry' | 'records'>,
): Promise<Address> {
  const { address } = await deployAndWait(wallet, publicClient, 'ResearchMarket', {
    abi: researchMarketAbi,
    bytecode: researchMarketBytecode,
    args: [deployment.registry, deployment.records],
  })
  return address
}

/** Deploys ArchiveAnchor for an existing registry (a home deployed before it existed gets it this way). */
export async function deployArchiveAnchor(
  wallet: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  registry: Address,
): Promise<Address> {
  const { address } = await deployAndWait(wallet, publicClient, 'ArchiveAnchor', {
    abi: archiveAnchorAbi,
    bytecode: archiveAnchorBytecode,
    args: [registry],
  })
  return address
}
