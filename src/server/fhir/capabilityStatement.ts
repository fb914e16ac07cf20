import type { CapabilityStatement, CapabilityStatementRestResourceSearchParam } from '@medplum/fhirtypes'

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

/** Types a provider can create: those that name their patient (a Binary does not). */
export const CREATABLE_TYPES = LISTED_TYPES.filter((t) => t !== 'Binary')

export const SEARCH_PARAMS: CapabilityStatementRestResourceSearchParam[] = [
  { name: '_id', type: 'token', documentation: 'The logical id (the token id of the first version); comma-separated for OR' },
  { name: 'patient', type: 'reference', documentation: 'The patient (Patient/0x… or the address); defaults to the caller' },
  { name: 'subject', type: 'reference', documentation: 'The same as patient' },
  {
    name: 'category',
    type: 'token',
    documentation: "medvault category (laboratory, imaging, immunization…) or the resource's own category code",
  },
  { name: 'code', type: 'token', documentation: 'system|code or code, comma-separated for OR' },
  { name: 'date', type: 'date', documentation: 'The clinical date, with eq, ne, gt, lt, ge, le prefixes; repeat for a range' },
]

export const CONSENT_SEARCH_PARAMS: CapabilityStatementRestResourceSearchParam[] = [
  { name: 'patient', type: 'reference', documentation: 'The patient who gave it (Patient/0x… or the address)' },
  { name: 'actor', type: 'reference', documentation: 'The grantee (Practitioner/0x… or the address)' },
  { name: 'status', type: 'token', documentation: 'active or inactive (revoked or expired)' },
]

const SEARCH_DOCUMENTATION =
  'Search takes GET [type]?…, POST [type]/_search (form body) and the Patient compartment (Patient/[id]/[type]). ' +
  'No modifiers and no chaining. Result parameters: _count (default 50, at most 500), _sort (date, -date, _id, -_id), ' +
  '_summary=count, _elements. Pages are linked by next and previous, with a cursor on the sort key and token id, so records ' +
  'issued while a client pages neither repeat nor vanish. Unsupported parameters are left out of the self link, and refused ' +
  '(400) under Prefer: handling=strict. Search returns current records only (not those an amendment replaced). JSON only: ' +
  'XML is refused with 406.'

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
        documentation: `Every read checks the patient’s consent on chain first and is written to the audit trail. Records are immutable: an amendment is a new version of the same logical resource (id = the token id of its first version; meta.versionId, ETag, Last-Modified, If-None-Match, vread, _history); no update, patch or delete (405). ${SEARCH_DOCUMENTATION}`,
        security: {
          description:
            'Sign-In with Ethereum (EIP-4361): GET /auth/nonce, sign the message, POST /auth/login, then send `Authorization: Bearer <token>`.',
        },
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        compartment: ['http://hl7.org/fhir/CompartmentDefinition/patient'],
        resource: [
          {
            type: 'Patient',
            interaction: [{ code: 'read' }],
            operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }],
          },
          {
            type: 'Consent',
            documentation:
              'Grants on chain as Consents. create (a patient): a grant, as medvault grant makes it; update: only status "inactive", which revokes it. provision.data names records, provision.code medvault categories, neither: all records.',
            interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }, { code: 'update' }],
            searchParam: CONSENT_SEARCH_PARAMS,
          },
          ...LISTED_TYPES.map((type) => ({
            type,
            interaction: [
              { code: 'read' as const },
              { code: 'vread' as const },
              { code: 'history-instance' as const },
              { code: 'search-type' as const },
              ...((CREATABLE_TYPES as readonly string[]).includes(type) ? [{ code: 'create' as const }] : []),
            ],
            versioning: 'versioned' as const,
            readHistory: true,
            conditionalRead: 'not-match' as const,
            searchParam: SEARCH_PARAMS,
          })),
        ],
      },
    ],
  }
}
