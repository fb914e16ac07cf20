export { minimizeBundle, minimizeBundleWithReport, resolveShortReference } from './minimize.js'
export type { MinimizeResult } from './minimize.js'
export {
  HEALTH_CARD_TYPE,
  RID_PATTERN,
  generateIssuerKey,
  issueHealthCard,
  issuerUrlProblem,
  jwkKid,
  jwksOf,
  publicJwkOf,
} from './issue.js'
export type { HealthCardPayload, IssuedHealthCard, IssueHealthCardOptions, IssuerKey } from './issue.js'
export {
  MAX_CHUNK_JWS_LENGTH,
  MAX_QR_VERSION,
  MAX_SINGLE_QR_JWS_LENGTH,
  SHC_PREFIX,
  SMART_HEALTH_CARD_FILE_EXTENSION,
  SMART_HEALTH_CARD_MEDIA_TYPE,
  ShcQrError,
  fromQrChunks,
  fromQrNumeric,
  healthCardFile,
  parseQrChunk,
  qrPng,
  qrPngChunks,
  qrSegments,
  qrSvg,
  qrSvgChunks,
  toQrChunks,
  toQrNumeric,
} from './qr.js'
export type { HealthCardFile, QrChunk, QrImageOptions } from './qr.js'
export { crlUrl, isRidRevoked, parseCrl, revocationCheckerFromCrls, verifyHealthCard, verifyHealthCards } from './verify.js'
export type { Check, CheckId, Crl, ResolvedIssuer, Verdict, VerifyOptions } from './verify.js'
export { healthCardJwkFromChain, healthCardKeyFromSeed } from './issuerKey.js'
export type { HealthCardIssuerKey } from './issuerKey.js'
export { cardMatchesRecords, ensureHealthCardKey, issueCardFromRecords } from './issueFromRecords.js'
export {
  combineTrust,
  exportTrustSnapshot,
  jwksTrust,
  medvaultIssuerUrl,
  providerOfIssuer,
  registryTrust,
  vciDirectoryTrust,
} from './trust.js'
export type { TrustSource } from './trust.js'
export { readCrl, revokeRid } from './revocation.js'
export { startWellKnownServer } from './wellKnownServer.js'
