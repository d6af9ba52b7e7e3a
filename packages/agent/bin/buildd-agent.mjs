#!/usr/bin/env node
// Runs the TypeScript sources directly: the agent is not compiled ahead of time.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
