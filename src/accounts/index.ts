export { checkAccountName, openKeystore } from './keystore.js'
export type { Keystore, KeystoreFile, PublicAccount, UnlockedAccount } from './keystore.js'
export { readPassphrase } from './passphrase.js'
export { keystoreFileSchema } from './keystoreFormat.js'
