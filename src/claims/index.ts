export { commitFields, disclosureDigest, fieldsHash, leavesOf, recordFieldsTypes } from '../core/index.js'
export type { Leaf } from '../core/index.js'
export { proveClaim, verifyClaim } from './presentation.js'
export type { ClaimPresentation, ClaimVerdict, Disclosure } from './presentation.js'
