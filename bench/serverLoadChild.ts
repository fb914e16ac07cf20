/**
 * Runs in its own process (bench/child.ts) so the load generator does not share a CPU budget or
 * an event loop with the server it measures: autocannon against one authenticated URL.
 * Args: URL TOKEN SECONDS CONNECTIONS. Prints one JSON line.
 */
import autocannon from 'autocannon'
import { progress } from './util.js'

const [url, token, seconds, connections] = process.argv.slice(2)
progress(`autocannon: ${connections} connections for ${seconds} s on ${new URL(url!).pathname}`)
const result = await autocannon({
  url: url!,
  headers: { authorization: `Bearer ${token}` },
  duration: Number(seconds),
  connections: Number(connections),
})
console.log(
  JSON.stringify({
    requests: result.requests.total,
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }),
)
