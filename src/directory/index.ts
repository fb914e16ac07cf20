export {
  authorizeProvider,
  encryptionKeyOf,
  listProviders,
  publishEncryptionKey,
  registerProvider,
  revokeProvider,
  setProviderStatus,
} from './directory.js'
export { getProvider } from './directory.js'
export type { ProviderInfo } from './directory.js'
