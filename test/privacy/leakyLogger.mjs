// A deliberately leaky "test build" of the server for the privacy scan's positive control: preloaded
// with `node --import`, it logs every HTTP response body to stderr, the way a debugging hook left in
// by mistake would. The scan must catch the patient's identifiers in that log. Never used otherwise.
import http from 'node:http'

const log = (response, chunk) => {
  if (chunk && (typeof chunk === 'string' || chunk instanceof Uint8Array)) {
    process.stderr.write(`debug: response ${response.statusCode}: ${Buffer.from(chunk).toString('utf8')}\n`)
  }
}
const { write, end } = http.ServerResponse.prototype
http.ServerResponse.prototype.write = function (chunk, ...rest) {
  log(this, chunk)
  return write.call(this, chunk, ...rest)
}
http.ServerResponse.prototype.end = function (chunk, ...rest) {
  if (typeof chunk !== 'function') log(this, chunk)
  return end.call(this, chunk, ...rest)
}
