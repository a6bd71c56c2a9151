import { defineConfig } from 'vite'

// The console is served by the service at /console/ (see src/http for the static route).
// Preact's automatic JSX runtime; no inline script or style, so a strict CSP holds.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
})
