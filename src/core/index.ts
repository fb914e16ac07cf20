/**
 * The foundations every feature folder builds on, kept below all of them so that none has to
 * reach up into records/ for them: the context a record operation runs in, the record categories
 * and sensitivity flags, the EIP-712 types the contracts check, per-field commitments, the key
 * slip format, and where the package lives. Nothing here imports a feature folder.
 */
export * from './attestation.js'
export * from './categories.js'
export * from './context.js'
export * from './fields.js'
export * from './keySlipFormat.js'
export * from './packageRoot.js'
export * from './categoryTags.js'
export * from './recordDigests.js'
