import type { Account, Chain, PublicClient, Transport, WalletClient } from 'viem'
import type { Deployment } from '../chain/deploy.js'
import type { BlobStore } from '../storage/index.js'

/** What record operations need: a chain to read and write, the deployed contracts, a blob store. */
export type RecordsContext = {
  publicClient: PublicClient<Transport, Chain>
  walletFor(account: Account): WalletClient<Transport, Chain, Account>
  deployment: Deployment
  store: BlobStore
}

export type Progress = { stage: 'hashing' | 'encrypting' | 'storing' | 'minting' | 'fetching' | 'verifying'; bytes?: number }
export type OnProgress = (progress: Progress) => void
