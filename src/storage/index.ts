export type { BlobStore } from './blobStore.js'
export { createHeliaStore } from './heliaStore.js'
