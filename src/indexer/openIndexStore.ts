import type { Config, HomePaths } from '../home/index.js'
import { openPostgresIndex } from './postgresIndex.js'
import { openSqliteIndex } from './sqliteIndex.js'
import type { IndexStore } from './types.js'

/**
 * Opens the index the config names: SQLite at `<home>/index.sqlite` (the default), or PostgreSQL
 * at `index.url`.
 *
 * @example
 * const store = await openIndexStore(mv.paths, mv.config)
 */
export function openIndexStore(paths: Pick<HomePaths, 'index'>, config: Pick<Config, 'index'>): Promise<IndexStore> {
  return config.index.kind === 'postgres' ? openPostgresIndex(config.index.url) : openSqliteIndex(paths.index)
}
