import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { packageRoot } from './packageRoot.js'

describe('packageRoot', () => {
  it("finds medvault's own folder, with its examples, from wherever the code runs", () => {
    const root = packageRoot()
    assert.equal(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name, 'medvault')
    assert.ok(existsSync(join(root, 'examples', 'fhir')))
    assert.equal(packageRoot(), root)
  })
})
