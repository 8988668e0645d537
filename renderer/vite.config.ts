// Vite build of the renderer (DESIGN §2): renderer/ → renderer/dist/, served by both hosts (app:// in
// Electron, the browser host over HTTP) with the CSP of electron/host/security.ts. Nothing is inlined as a
// data: URL and no inline script is emitted, so `script-src 'self'` holds for the built app.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Electron 45 is Chromium 140; Debian's Chromium is newer.
    target: 'chrome130',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1' },
});
