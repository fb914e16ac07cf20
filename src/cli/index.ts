/** The command-line interface (bin/medvault.js runs its bundle). */
export { main } from './main.js'
