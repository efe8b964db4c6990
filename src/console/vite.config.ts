import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/-/console/',
  plugins: [preact()],
  build: { outDir: '../../dist/console', emptyOutDir: true },
});
