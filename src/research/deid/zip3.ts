/**
 * The first three digits of a ZIP code may stay only where the three-digit area holds more than
 * 20,000 people (45 CFR 164.514(b)(2)(i)(B)). These are the ZIP3s HHS lists as holding 20,000 or
 * fewer (2000 Census, the list HHS's de-identification guidance gives); they become "000".
 */
export const RESTRICTED_ZIP3 = new Set([
  '036',
  '059',
  '063',
  '102',
  '203',
  '556',
  '692',
  '790',
  '821',
  '823',
  '830',
  '831',
  '878',
  '879',
  '884',
  '890',
  '893',
])

const US_ZIP = /^(\d{3})\d{2}(?:-?\d{4})?$/
const US_COUNTRY = /^(us|usa|united states( of america)?)$/i

/**
 * The Safe Harbor ZIP3 of a postal code, or undefined when none may be kept: not a US ZIP (the
 * rule is about US Census areas, a foreign postal code is removed), or no country but not ZIP-shaped.
 */
export function safeZip3(postalCode: string, country: string | undefined): string | undefined {
  if (country !== undefined && !US_COUNTRY.test(country.trim())) return undefined
  const match = US_ZIP.exec(postalCode.trim())
  if (!match?.[1]) return undefined
  return RESTRICTED_ZIP3.has(match[1]) ? '000' : match[1]
}
