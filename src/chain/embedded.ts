import type { Hex } from 'viem'

/**
 * The first of anvil's deterministic development keys (mnemonic "test test ... junk"). It is public
 * knowledge and funded only on the embedded local chain, where medvault uses it to deploy the
 * contracts, act as the registrar and fund new accounts. Never used on any other chain.
 */
export const EMBEDDED_DEV_KEY: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'

/** Balance given to each new account on the embedded chain (100 ETH), so it can pay gas. */
export const EMBEDDED_FUNDING = 100n * 10n ** 18n
