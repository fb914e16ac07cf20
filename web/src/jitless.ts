/**
 * Imported first: zod compiles fast parsers with `new Function` unless told not to, and the
 * server's CSP (no 'unsafe-eval') would refuse that, with a console error each time.
 */
import { z } from 'zod'

z.config({ jitless: true })
