/**
 * The REST server in a process of its own, over an existing home, for crash tests: killed by
 * `MEDVAULT_FAULT` (SIGKILL at a journal point) while the chain, in the test's process, runs on.
 * Usage: node --import tsx restServerProcess.ts <home> <port> (or its compiled .js, see childScript.ts). Prints `ready <url>` once it serves.
 */
import { openMedvault } from '../../src/home/index.js'
import { startServer } from '../../src/server/index.js'
import { PASSPHRASE } from './stack.js'

const [home, port] = process.argv.slice(2)
const mv = await openMedvault({ home: home! })
const server = await startServer(mv, {
  port: Number(port),
  passphrase: PASSPHRASE,
  webRoot: false,
  logError: (line) => process.stderr.write(`${line}\n`),
})
process.stdout.write(`ready ${server.url}\n`)
process.once('SIGTERM', () => {
  void server
    .close()
    .then(() => mv.close())
    .finally(() => process.exit(0))
})
