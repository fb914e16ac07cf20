export { commitFields, disclosureDigest, fieldsHash, leavesOf, recordFieldsTypes } from './fields.js'
export type { Leaf } from './fields.js'
export { proveClaim, verifyClaim } from './presentation.js'
export type { ClaimPresentation, ClaimVerdict, Disclosure } from './presentation.js'
