#!/usr/bin/env node
// Runs the TypeScript sources directly: the CLI is not compiled ahead of time.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
