import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { headlineRows } from '../../bench/summary.js'
import type { Metrics } from '../../bench/util.js'

const metric = (value: number, unit = 'MiB/s'): Metrics[string] => ({ label: '', value, unit, kind: 'throughput' })

describe('bench: the headline table', () => {
  it('puts store and fetch next to AES-GCM and, when measured, next to the two-core ceiling', () => {
    const rows = headlineRows({
      'throughput.aesGcm': metric(4000),
      'throughput.sealAndStore': metric(400),
      'throughput.catAndOpen': metric(500),
      'throughput.storeCeiling': metric(1600),
    })
    const store = rows.find((r) => r.what.startsWith('encrypt + store'))
    const fetch = rows.find((r) => r.what.startsWith('fetch'))
    assert.equal(store?.ratio, '0.10x; 0.25x of the ceiling')
    assert.match(store?.reference ?? '', /two-core ceiling with hashing and file I\/O 1600\.0 MiB\/s/)
    assert.equal(fetch?.ratio, '0.13x', 'no ceiling measured for fetch: AES alone')
  })

  it('leaves out rows whose figures this run did not measure', () => {
    assert.deepEqual(headlineRows({ 'throughput.sealAndStore': metric(400) }), [])
  })
})
