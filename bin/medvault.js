#!/usr/bin/env node
// The bundled CLI (see scripts/bundle-cli.mjs); `npm run build` makes it from dist/cli/main.js.
import { main } from '../dist/cli-bundle/main.js'

process.exitCode = await main(process.argv.slice(2))
