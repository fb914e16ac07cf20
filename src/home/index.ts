/** A medvault home: its folder and config, and opening it (chain, storage, keystore, audit). */
export { configSchema, DEFAULT_CONFIG, homePaths, loadConfig, resolveHome, saveConfig } from './config.js'
export type { Medvault, OpenMedvaultParameters } from './openMedvault.js'
export type { Config, HomePaths } from './config.js'
export { createAccount } from './createAccount.js'
export { initHome, openMedvault } from './openMedvault.js'
export { readRunInfo, removeRunInfo, writeRunInfo } from './runFile.js'
