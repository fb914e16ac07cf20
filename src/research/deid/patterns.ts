import type { IdentifierKind } from './types.js'

/**
 * Identifier shapes in a text that is otherwise kept (a code's display, a coded value's text).
 * Written by hand: no library in the project recognises PHI in text, and these are shapes, not
 * NLP. A match removes the whole text; it is a second line of defence, since every free-text field
 * (notes, narrative, descriptions) is removed anyway.
 */
const PATTERNS: readonly (readonly [IdentifierKind, RegExp])[] = [
  ['url', /\b(?:https?|ftp|file):\/\/\S+/i],
  ['url', /\bwww\.[a-z0-9-]+\.[a-z]{2,}/i],
  ['email', /[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/i],
  // Not inside a longer dotted number (an OID such as 2.16.840.1.113883.6.238).
  ['ip', /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])/],
  ['ip', /\b(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}\b/i],
  ['ssn', /\b\d{3}[- ]\d{2}[- ]\d{4}\b/],
  ['phone', /(?:\+?1[\s.-]?)?\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b/],
  // A month and day (ISO, US or spelled out); a bare year stays.
  ['date', /\b\d{4}-\d{2}-\d{2}\b/],
  ['date', /\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b/],
  [
    'date',
    /\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+\d{1,2}\b/i,
  ],
  // Record, member, account or licence numbers: a long run of digits, or letters and digits mixed.
  ['other-id', /\b\d{7,}\b/],
  ['other-id', /\b(?=[a-z0-9-]*\d)(?=[a-z0-9-]*[a-z])[a-z0-9]{2,}-?\d{5,}\b/i],
]

/** The kind of the first identifier shape found in `text`, or undefined. */
export function findIdentifierPattern(text: string): IdentifierKind | undefined {
  for (const [kind, pattern] of PATTERNS) if (pattern.test(text)) return kind
  return undefined
}
