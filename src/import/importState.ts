import type { Hex } from 'viem'
import { type BeginEntry, type JournalEntry, type SealedEntry, importJournal } from './journal.js'

/** Where one bundle entry stands, per the journal. */
export type ItemState =
  /** Sealed and stored; no transaction carries it (never sent, or its batch was dropped). */
  | { status: 'sealed'; sealed: SealedEntry }
  /** In a batch transaction whose outcome the journal does not know yet. */
  | { status: 'submitted'; sealed: SealedEntry; batch: number }
  /** Minted, with its key slips written. */
  | { status: 'confirmed'; sealed: SealedEntry; batch: number; tokenId: bigint }

export type BatchTx = { hash: Hex; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }

export type BatchState = {
  batch: number
  items: number[]
  nonce: number
  /** Every signed version of the batch, all with the same nonce and calldata: at most one can ever be mined. */
  txs: BatchTx[]
  status: 'submitted' | 'confirmed' | 'dropped'
  confirmed?: { txHash: Hex; block: bigint; gasUsed: bigint }
}

export type ImportState = {
  begin: BeginEntry | undefined
  items: Map<number, ItemState>
  batches: Map<number, BatchState>
  /** The number the next batch gets. */
  nextBatch: number
}

/**
 * Folds a journal into the state of each entry and batch. The journal is append-only and written
 * by one process at a time, so any transition it does not allow (a batch confirmed twice, an
 * entry sealed again while in flight) means it was damaged or edited, and throws.
 */
export function replayJournal(entries: readonly JournalEntry[]): ImportState {
  const state: ImportState = { begin: undefined, items: new Map(), batches: new Map(), nextBatch: 1 }
  importJournal.fold(entries, (entry, fail) => {
    switch (entry.t) {
      case 'begin':
        state.begin = entry
        break
      case 'sealed': {
        const item = state.items.get(entry.i)
        if (item && item.status !== 'sealed') fail(`entry ${entry.i} sealed again while ${item.status}`)
        state.items.set(entry.i, { status: 'sealed', sealed: entry })
        break
      }
      case 'submitted': {
        const existing = state.batches.get(entry.batch)
        const tx: BatchTx = {
          hash: entry.txHash as Hex,
          maxFeePerGas: BigInt(entry.maxFeePerGas),
          maxPriorityFeePerGas: BigInt(entry.maxPriorityFeePerGas),
        }
        if (existing) {
          if (existing.status !== 'submitted') fail(`batch ${entry.batch} re-sent after it was ${existing.status}`)
          if (existing.nonce !== entry.nonce || existing.items.join() !== entry.items.join())
            fail(`batch ${entry.batch} re-sent with other contents`)
          existing.txs.push(tx)
          break
        }
        if (entry.batch < state.nextBatch) fail(`batch ${entry.batch} reuses a batch number`)
        for (const i of entry.items) {
          const item = state.items.get(i)
          if (item?.status !== 'sealed') fail(`entry ${i} submitted while ${item?.status ?? 'not sealed'}`)
          state.items.set(i, { status: 'submitted', sealed: (item as { sealed: SealedEntry }).sealed, batch: entry.batch })
        }
        state.batches.set(entry.batch, { batch: entry.batch, items: [...entry.items], nonce: entry.nonce, txs: [tx], status: 'submitted' })
        state.nextBatch = entry.batch + 1
        break
      }
      case 'confirmed': {
        const batch = state.batches.get(entry.batch)
        if (batch?.status !== 'submitted') fail(`batch ${entry.batch} confirmed while ${batch?.status ?? 'unknown'}`)
        const tokens = new Map(entry.tokens.map(([i, token]) => [i, BigInt(token)]))
        const items = (batch as BatchState).items
        if (tokens.size !== items.length || items.some((i) => !tokens.has(i))) fail(`batch ${entry.batch} confirmed with other entries`)
        for (const i of items) {
          const item = state.items.get(i) as Extract<ItemState, { status: 'submitted' }>
          state.items.set(i, { status: 'confirmed', sealed: item.sealed, batch: entry.batch, tokenId: tokens.get(i)! })
        }
        Object.assign(batch as BatchState, {
          status: 'confirmed',
          confirmed: { txHash: entry.txHash as Hex, block: BigInt(entry.block), gasUsed: BigInt(entry.gasUsed) },
        })
        break
      }
      case 'dropped': {
        const batch = state.batches.get(entry.batch)
        if (batch?.status !== 'submitted') fail(`batch ${entry.batch} dropped while ${batch?.status ?? 'unknown'}`)
        for (const i of (batch as BatchState).items) {
          const item = state.items.get(i) as Extract<ItemState, { status: 'submitted' }>
          state.items.set(i, { status: 'sealed', sealed: item.sealed })
        }
        ;(batch as BatchState).status = 'dropped'
        break
      }
      case 'reopened': {
        const batch = state.batches.get(entry.batch)
        if (batch?.status !== 'confirmed') fail(`batch ${entry.batch} reopened while ${batch?.status ?? 'unknown'}`)
        for (const i of (batch as BatchState).items) {
          const item = state.items.get(i) as Extract<ItemState, { status: 'confirmed' }>
          state.items.set(i, { status: 'submitted', sealed: item.sealed, batch: entry.batch })
        }
        const reopened = batch as BatchState
        reopened.status = 'submitted'
        delete reopened.confirmed
        break
      }
    }
  })
  return state
}
