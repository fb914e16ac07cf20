/** The access report (HIPAA accounting of disclosures, GDPR art. 15): gathered from the chain and the access log, rendered as JSON or PDF. */
export { ACCESS_REPORT_VERSION } from './accessReport.js'
export type { AccessReport, ReportAccess, ReportEmergency, ReportGrant, ReportParty, ReportRecord } from './accessReport.js'
export { gatherAccessReport } from './gatherAccessReport.js'
export type { GatherAccessReportParameters } from './gatherAccessReport.js'
export { renderAccessReportPdf } from './renderAccessReportPdf.js'
