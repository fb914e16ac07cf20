/**
 * Helia 7 and libp2p call Promise.withResolvers (ES2024), which Node 20 lacks. This fills in the
 * standard behaviour when missing; on Node 22 it does nothing.
 */
type Resolvers<T> = { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void }

const PromiseWithResolvers = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof PromiseWithResolvers.withResolvers !== 'function') {
  PromiseWithResolvers.withResolvers = <T>(): Resolvers<T> => {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}
