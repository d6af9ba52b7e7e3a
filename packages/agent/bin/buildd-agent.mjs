#!/usr/bin/env node
// Development launcher: runs the TypeScript sources through tsx (tests use it).
// The installed `buildd-agent` command is the built dist/buildd-agent.mjs (`npm run build`).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
