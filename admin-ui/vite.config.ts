import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The appliance embeds dist/ and serves it at `/admin/`; the console talks to the same origin.
const target = process.env.PARLEY_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/admin/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  // `npm run dev` (and `vite preview`) proxy the API to a local `parley serve --dev`.
  server: { proxy: { '/api': { target, changeOrigin: true }, '/health': { target, changeOrigin: true } } },
  preview: { proxy: { '/api': { target, changeOrigin: true }, '/health': { target, changeOrigin: true } } },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
