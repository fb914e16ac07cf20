import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Command } from 'commander'
import { COMMAND_MODULES, commandWord } from './main.js'

describe('CLI command table', () => {
  it('names exactly the top-level commands each module registers', async () => {
    for (const entry of COMMAND_MODULES) {
      const program = new Command()
      // recovery.js adds `account rotate` to an existing `account` command
      if (entry.names.includes('recovery')) program.command('account')
      ;(await entry.load())(program, async () => undefined)
      assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...entry.names].sort(), `table entry ${entry.names.join(',')}`)
    }
  })

  it('finds the command word after global options', () => {
    assert.equal(commandWord(['--home', '/tmp/h', '--json', 'record', 'get', '1']), 'record')
    assert.equal(commandWord(['--json', 'status']), 'status')
    assert.equal(commandWord(['--help']), undefined)
    assert.equal(commandWord([]), undefined)
  })
})
