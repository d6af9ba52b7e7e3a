/** Runs around every test file: fails the file when it left something running, and drops its databases. */
import { afterAll } from 'vitest';
import { dropFileDatabases } from './engines.ts';
import { collectLeaks } from './leaks.ts';

afterAll(async () => {
  const leaks = await collectLeaks();
  await dropFileDatabases();
  if (leaks.length > 0) {
    throw new Error(`This test file left running (now stopped): ${leaks.join('; ')}. Stop them in the test.`);
  }
});
