import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from 'viem'
import { medicalRecordAbi, medicalRecordBytecode, providerRegistryAbi, providerRegistryBytecode } from '../contracts/index.js'
import { ChainError } from '../errors.js'

export type Deployment = {
  chainId: number
  registry: Address
  records: Address
  deployedAtBlock: string
}

export type DeployContractsParameters = {
  /** Holds DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE on the registry. Defaults to the deployer. */
  admin?: Address
}

/**
 * Deploys ProviderRegistry then MedicalRecord and waits for both receipts.
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
  return {
    chainId: wallet.chain.id,
    registry: registryReceipt.contractAddress,
    records: recordsReceipt.contractAddress,
    deployedAtBlock: registryReceipt.blockNumber.toString(),
  }
}
