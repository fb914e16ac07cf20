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
import { ChainError } from '../errors.js'

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
  const registryHash = await wallet.deployContract({
    abi: providerRegistryAbi,
    bytecode: providerRegistryBytecode,
    args: [admin],
  })
  const registryReceipt = await publicClient.waitForTransactionReceipt({ hash: registryHash })
  if (!registryReceipt.contractAddress) throw new ChainError('Deploying ProviderRegistry failed.')
  const recordsHash = await wallet.deployContract({
    abi: medicalRecordAbi,
    bytecode: medicalRecordBytecode,
    args: [registryReceipt.contractAddress],
  })
  const recordsReceipt = await publicClient.waitForTransactionReceipt({ hash: recordsHash })
  if (!recordsReceipt.contractAddress) throw new ChainError('Deploying MedicalRecord failed.')
  const consentHash = await wallet.deployContract({
    abi: consentRegistryAbi,
    bytecode: consentRegistryBytecode,
    args: [recordsReceipt.contractAddress, registryReceipt.contractAddress],
  })
  const auditHash = await wallet.deployContract({ abi: auditAnchorAbi, bytecode: auditAnchorBytecode })
  // One send after another: a wallet without medvault's nonce management (any viem wallet a caller
  // passes) takes each nonce from the node, and concurrent sends would take the same one.
  const research = await deployResearchMarket(wallet, publicClient, {
    registry: registryReceipt.contractAddress,
    records: recordsReceipt.contractAddress,
  })
  const archive = await deployArchiveAnchor(wallet, publicClient, registryReceipt.contractAddress)
  const [consentReceipt, auditReceipt] = await Promise.all([
    publicClient.waitForTransactionReceipt({ hash: consentHash }),
    publicClient.waitForTransactionReceipt({ hash: auditHash }),
  ])
  if (!consentReceipt.contractAddress || !auditReceipt.contractAddress)
    throw new ChainError('Deploying ConsentRegistry or AuditAnchor failed.')
  return {
    chainId: wallet.chain.id,
    registry: registryReceipt.contractAddress,
    records: recordsReceipt.contractAddress,
    consent: consentReceipt.contractAddress,
    audit: auditReceipt.contractAddress,
    research,
    archive,
    deployedAtBlock: registryReceipt.blockNumber.toString(),
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
  const hash = await wallet.deployContract({
    abi: researchMarketAbi,
    bytecode: researchMarketBytecode,
    args: [deployment.registry, deployment.records],
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  if (!receipt.contractAddress) throw new ChainError('Deploying ResearchMarket failed.')
  return receipt.contractAddress
}

/** Deploys ArchiveAnchor for an existing registry (a home deployed before it existed gets it this way). */
export async function deployArchiveAnchor(
  wallet: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  registry: Address,
): Promise<Address> {
  const hash = await wallet.deployContract({ abi: archiveAnchorAbi, bytecode: archiveAnchorBytecode, args: [registry] })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  if (!receipt.contractAddress) throw new ChainError('Deploying ArchiveAnchor failed.')
  return receipt.contractAddress
}
