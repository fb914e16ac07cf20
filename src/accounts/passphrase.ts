import { createInterface } from 'node:readline'
import { InvalidInputError } from '../errors.js'

/**
 * The passphrase for an account: MEDVAULT_PASSPHRASE when set (scripts, CI), otherwise a hidden
 * prompt on a terminal. Never logged.
 */
export async function readPassphrase(prompt: string): Promise<string> {
  const fromEnv = process.env.MEDVAULT_PASSPHRASE
  if (fromEnv) return fromEnv
  if (!process.stdin.isTTY) {
    throw new InvalidInputError('A passphrase is needed and there is no terminal to ask for it.', {
      hint: 'Set MEDVAULT_PASSPHRASE in the environment.',
    })
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
  const output = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream }
  let prompted = false
  output._writeToOutput = (s: string) => {
    // Show the prompt once, echo nothing the person types.
    if (!prompted) {
      prompted = true
      process.stderr.write(s)
    }
  }
  try {
    return await new Promise<string>((resolve) => rl.question(prompt, resolve))
  } finally {
    process.stderr.write('\n')
    rl.close()
  }
}
