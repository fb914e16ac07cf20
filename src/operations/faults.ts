import { type Checkpoint, faultPoint } from '../journal/index.js'
import type { Operation } from './operationJournal.js'
import type { OperationPoint } from './submitOnce.js'

/** The fault points each single operation passes, in order. */
export const OPERATION_POINTS: Record<Operation, readonly OperationPoint[]> = {
  'record-add': ['after-seal', 'before-send', 'after-submit', 'after-confirm', 'after-slips'],
  'record-amend': ['after-seal', 'before-send', 'after-submit', 'after-confirm', 'after-slips'],
  grant: ['before-send', 'after-submit', 'after-confirm', 'after-slips'],
  revoke: ['before-send', 'after-submit', 'after-confirm'],
  delegate: ['before-send', 'after-submit', 'after-confirm'],
  emergency: ['before-send', 'after-submit', 'after-confirm'],
}

/** The checkpoint `MEDVAULT_FAULT=<operation>:<point>[:<n>]` asks for, for crash tests; undefined otherwise. */
export function operationFault(spec: string | undefined, op: Operation): Checkpoint<OperationPoint> | undefined {
  return faultPoint(spec, op, OPERATION_POINTS[op])
}
