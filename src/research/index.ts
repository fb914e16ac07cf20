/** Research: the market contract's client, studies, de-identification. */
export * from './deid/index.js'
export * from './market/index.js'
export * from './studies/index.js'
