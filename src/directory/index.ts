export {
  authorizeProvider,
  encryptionKeyOf,
  listProviders,
  publishEncryptionKey,
  publishOpenTags,
  readerKeyOf,
  registerProvider,
  revokeProvider,
  setProviderStatus,
} from './directory.js'
export { getProvider } from './directory.js'
export type { PatientKeys, ProviderInfo } from './directory.js'
