/**
 * Child process of `npm run bench` (started by bench/throughput.ts with --expose-gc and glibc
 * allocator tunables): measures throughput and prints the result as one JSON line on stdout.
 */
import { measureThroughputHere } from './throughput.js'

measureThroughputHere()
  .then((result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    process.exit(0)
  })
  .catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
