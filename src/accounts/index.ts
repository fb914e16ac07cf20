export { checkAccountName, openKeystore } from './keystore.js'
export type { Keystore, KeystoreFile, PublicAccount, UnlockedAccount } from './keystore.js'
export { readPassphrase } from './passphrase.js'
export { keystoreFileSchema } from './keystoreFormat.js'
/** V3 (Web3 Secret Storage) keystores, loaded on demand: ethers is heavy and only `account export|import` need it. */
export const loadEthereumKeystore = () => import('./ethereumKeystore.js')
