#!/usr/bin/env node
// Development launcher: runs the TypeScript sources through tsx (tests and `npm run dev`-style use).
// The installed `buildd-server` command is the built dist/buildd-server.mjs (`npm run build`).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
