import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The web portal: built into dist/web, which `medvault start` serves at `/`.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // No inline scripts or styles: the server's CSP allows the app's own files only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 2048,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8788', '/auth': 'http://127.0.0.1:8788', '/fhir': 'http://127.0.0.1:8788' } },
})
