import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * Built into dist/ and served by buildd-server on the API's origin: hashed file names under /assets/ (cached
 * for a year), no inline script (the server's Content-Security-Policy forbids it).
 */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { proxy: { '/api': 'http://127.0.0.1:3000' } },
});
