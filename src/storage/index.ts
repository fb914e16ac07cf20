export type { BlobStore } from './blobStore.js'
export { createHeliaStore } from './heliaStore.js'
export { createKuboStore } from './kuboStore.js'
export { lazyBlobStore } from './lazyStore.js'
