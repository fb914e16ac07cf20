/**
 * The rule for files the CLI is told to write (`--out`) or read: the CLI runs as its user and
 * writes where that user says (`../x` and absolute paths are the user's own choice, not an attack
 * on them), but
 * - it never replaces an existing file, or a symbolic link, without `--force` (a typo cannot
 *   clobber a file elsewhere), and with `--force` it replaces the link itself, never the file it
 *   points to;
 * - it never writes into the medvault home, nor reads a document from it, however the path is
 *   spelled (`..`, symbolic links): the home holds keys and must hold no plaintext health data,
 *   and a key file read as a "document" would be sent out as a record.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync, realpathSync } from 'node:fs'
import { link, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { InvalidInputError, NotFoundError } from '../errors.js'

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep)
const real = (path: string) => (existsSync(path) ? realpathSync(path) : resolve(path))

function refuseHome(path: string, home: string, what: string) {
  if (inside(path, real(home))) {
    throw new InvalidInputError(`${what} is inside the medvault home (${home}).`, {
      hint: 'The home holds only keys and encrypted data; use a path outside it.',
    })
  }
}

/** Checks `out` before any work is done. Returns the absolute path to write. */
export function checkOutPath(out: string, options: { home: string; force?: boolean | undefined }): string {
  const target = resolve(out)
  const folder = dirname(target)
  if (!existsSync(folder))
    throw new NotFoundError(`The folder ${folder} does not exist.`, { hint: 'Create it first, or pick another --out.' })
  refuseHome(join(realpathSync(folder), basename(target)), options.home, `--out ${out}`)
  let exists = false
  try {
    lstatSync(target)
    exists = true
  } catch {
    // nothing there: fine
  }
  if (exists && !options.force) {
    throw new InvalidInputError(`${out} already exists.`, { hint: 'Add --force to replace it, or pick another --out.' })
  }
  return target
}

/** A temporary file beside `target`, for writing before `placeFile`. */
export const partialFileFor = (target: string) => join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.partial`)

/**
 * Moves a finished temporary file to `target`: with `force` by rename (a link at `target` is
 * replaced, not followed), otherwise by a hard link that fails if anything appeared there meanwhile.
 */
export async function placeFile(tmp: string, target: string, force: boolean | undefined): Promise<void> {
  try {
    if (force) await rename(tmp, target)
    else {
      await link(tmp, target).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') {
          throw new InvalidInputError(`${target} already exists.`, { hint: 'Add --force to replace it, or pick another --out.' })
        }
        throw error
      })
    }
  } finally {
    await rm(tmp, { force: true })
  }
}

/** Writes a whole file by the rule above. Returns the absolute path written. */
export async function writeOutFile(
  out: string,
  data: string | Uint8Array,
  options: { home: string; force?: boolean | undefined },
): Promise<string> {
  const target = checkOutPath(out, options)
  const tmp = partialFileFor(target)
  await writeFile(tmp, data, { flag: 'wx', mode: 0o600 })
  await placeFile(tmp, target, options.force)
  return target
}

/** Refuses a document to read (`record add FILE`, `import BUNDLE`) that is in the home, whichever way the path leads there. */
export function checkInputPath(file: string, options: { home: string }): void {
  if (!existsSync(file)) return // the reader says it is missing, in its own words
  refuseHome(realpathSync(file), options.home, file)
}
