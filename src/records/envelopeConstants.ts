/**
 * The envelope format's constants, apart from its zod schemas (envelopeFormat.ts): sealing needs
 * only these, and a large store should not load zod for them.
 */

/** The first four bytes of every envelope. */
export const ENVELOPE_MAGIC = new TextEncoder().encode('MVR1')
export const MAX_ENVELOPE_HEADER = 1 << 20
/** Per-field salts of a large FHIR bundle live in the meta too. */
export const MAX_ENVELOPE_META = 8 << 20

/** HPKE associated data binding a wrapped record key to its recipient's address. */
export const recipientAad = (address: string) => new TextEncoder().encode(`medvault/recipient/${address.toLowerCase()}`)
