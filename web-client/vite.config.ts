import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The server embeds dist/ and serves it at `/` (hashed files under assets/ are immutable).
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    // `npm run dev` proxies the API to a local `parley serve --dev` (see README).
    proxy: {
      '/api': { target: process.env.PARLEY_URL ?? 'http://127.0.0.1:8080', ws: true, changeOrigin: true },
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
