import { MedvaultError } from '../errors.js'

/** The index database failed or is unusable. The index is a cache of the chain: rebuilding it is always safe. */
export class IndexError extends MedvaultError {
  override name = 'IndexError'
  override readonly code = 'INDEX'
  override readonly exitCode = 7
}
