/**
 * An unlocked chain key as a viem account that signs with libsecp256k1 (bitcoin-core's library,
 * compiled to WebAssembly by tiny-secp256k1) instead of viem's JavaScript curve.
 *
 * An issuer signs twice per record (the attestation and the field commitments), and an import of
 * a thousand records spent a quarter of its main thread in those signatures: 0.59–0.82 ms each in
 * JavaScript, 0.12–0.20 ms in WebAssembly, measured side by side on 2 busy cores; the import went
 * from 290–333 to 344–382 records/s in alternating runs (docs/benchmarks.md#import). Both follow
 * RFC 6979 with low s, so they give the very same bytes: the tests hold this account to viem's
 * signature for every kind of signing it overrides. Transactions, authorisations and anything
 * the module cannot do (it did not load; a recovery id above 1, which no real key meets) take
 * viem's path unchanged, and so do a process's first two signatures (see below).
 */
import { type Hex, type PrivateKeyAccount, bytesToHex, hashMessage, hashTypedData, hexToBytes, serializeSignature } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

type Secp256k1 = Pick<typeof import('tiny-secp256k1'), 'signRecoverable'>

// Loaded at the third signature of the process, not at import: compiling its 1.2 MB of
// WebAssembly takes about 10 ms, which a few signatures in JavaScript do not (a command that
// issues one record signs twice, about 3 ms with viem; 12 ms if it loaded the module first). A
// bulk signer, such as an import, switches at its third signature.
const SIGNATURES_BEFORE_LOADING = 2
let signaturesMade = 0
let loaded: Promise<Secp256k1 | undefined> | undefined
const loadSecp256k1 = () => (loaded ??= import('tiny-secp256k1').catch(() => undefined))
let signedWithLibsecp256k1 = 0

/** How many signatures of this process libsecp256k1 made (the rest went through viem): for tests and diagnostics. */
export const libsecp256k1Signatures = (): number => signedWithLibsecp256k1

/** The account for `privateKey`: viem's, with `sign`, `signMessage` and `signTypedData` on libsecp256k1. */
export function signingAccount(privateKey: Hex): PrivateKeyAccount {
  const account = privateKeyToAccount(privateKey)
  const secret = hexToBytes(privateKey)

  const signHash = async (hash: Hex): Promise<Hex> => {
    const secp256k1 = ++signaturesMade > SIGNATURES_BEFORE_LOADING || loaded ? await loadSecp256k1() : undefined
    const signed = secp256k1?.signRecoverable(hexToBytes(hash), secret)
    if (!signed || signed.recoveryId > 1) return account.sign({ hash })
    signedWithLibsecp256k1 += 1
    return serializeSignature({
      r: bytesToHex(signed.signature.subarray(0, 32)),
      s: bytesToHex(signed.signature.subarray(32, 64)),
      yParity: signed.recoveryId,
    })
  }

  return {
    ...account,
    sign: ({ hash }) => signHash(hash),
    signMessage: ({ message }) => signHash(hashMessage(message)),
    signTypedData: (typedData) => signHash(hashTypedData(typedData as Parameters<typeof hashTypedData>[0])),
  }
}
