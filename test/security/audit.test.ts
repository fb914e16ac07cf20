import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
// @ts-expect-error: a plain .mjs script without types
import { auditVerdict } from '../../scripts/audit.mjs'

const report = (counts: Record<string, number>, vulnerabilities = {}) =>
  JSON.stringify({ metadata: { vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0, ...counts } }, vulnerabilities })

describe('the CI audit of production dependencies', () => {
  it('fails on a high or critical advisory and names the package', () => {
    const v = auditVerdict(report({ high: 1 }, { undici: { severity: 'high', range: '<7.0.0' } }))
    assert.equal(v.code, 1)
    assert.match(v.lines.join('\n'), /high: undici <7\.0\.0/)
    assert.equal(auditVerdict(report({ critical: 2 })).code, 1)
  })

  it('passes moderate and low advisories, and counts them', () => {
    const v = auditVerdict(report({ moderate: 3, low: 1 }))
    assert.equal(v.code, 0)
    assert.match(v.lines[0], /0 critical, 0 high, 3 moderate, 1 low/)
  })

  it('says plainly when the registry serves no advisories (an offline mirror)', () => {
    const v = auditVerdict(JSON.stringify({ message: '405 Method Not Allowed', statusCode: 405 }))
    assert.equal(v.code, 0)
    assert.match(v.lines[0], /405 Method Not Allowed.*NOT audited/)
  })
})
