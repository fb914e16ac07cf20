export {
  authorizeProvider,
  encryptionKeyOf,
  listProviders,
  publishEncryptionKey,
  registerProvider,
  revokeProvider,
  setProviderStatus,
} from './directory.js'
