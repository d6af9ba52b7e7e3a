#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a checkout needs no separate build step to start.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
