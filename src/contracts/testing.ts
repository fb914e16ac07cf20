/**
 * Contracts for tests and benchmarks only (contracts/test, contracts/bench): never imported by
 * src/. A second entry point so the production one (`./index.js`) does not carry them.
 */
export {
  baselineRecordAbi,
  baselineRecordBytecode,
  reentrantReceiverAbi,
  reentrantReceiverBytecode,
  reentrantTokenAbi,
  reentrantTokenBytecode,
  testStablecoinAbi,
  testStablecoinBytecode,
} from './artifacts/index.js'
