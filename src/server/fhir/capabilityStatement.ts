import type { CapabilityStatement } from '@medplum/fhirtypes'

/** Resource types the facade serves: whatever a record holds; these are listed for clients to discover. */
export const LISTED_TYPES = [
  'Observation',
  'DiagnosticReport',
  'Condition',
  'Immunization',
  'MedicationRequest',
  'MedicationStatement',
  'Procedure',
  'Encounter',
  'AllergyIntolerance',
  'DocumentReference',
  'ImagingStudy',
  'Binary',
] as const

const SEARCH_PARAMS = [
  { name: 'patient', type: 'reference' as const, documentation: 'The patient (Patient/0x… or the address); defaults to the caller' },
  {
    name: 'category',
    type: 'token' as const,
    documentation: "medvault category (laboratory, imaging, immunization…) or the resource's own category code",
  },
  { name: 'code', type: 'token' as const, documentation: 'system|code or code, comma-separated for OR' },
  { name: 'date', type: 'date' as const, documentation: 'The clinical date, with eq, ne, gt, lt, ge, le prefixes' },
]

/** GET /fhir/metadata: https://hl7.org/fhir/R4/capabilitystatement.html */
export function capabilityStatement(baseUrl: string, version: string): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    software: { name: 'medvault', version },
    implementation: { description: 'medvault FHIR R4 facade: patient-owned, consent-checked, verified records', url: `${baseUrl}/fhir` },
    rest: [
      {
        mode: 'server',
        documentation: 'Every read checks the patient’s consent on chain first and is written to the audit trail.',
        security: {
          description:
            'Sign-In with Ethereum (EIP-4361): GET /auth/nonce, sign the message, POST /auth/login, then send `Authorization: Bearer <token>`.',
        },
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        resource: [
          {
            type: 'Patient',
            interaction: [{ code: 'read' }],
            operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }],
          },
          ...LISTED_TYPES.map((type) => ({
            type,
            interaction: [{ code: 'read' as const }, { code: 'search-type' as const }, { code: 'create' as const }],
            searchParam: SEARCH_PARAMS,
          })),
        ],
      },
    ],
  }
}
