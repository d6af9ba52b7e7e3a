import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type ApiClient, apiClient } from './api.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './server.ts';

/** The test server of `useTestServer`: the current one's fields, and a client with the admin key. */
export type ServerHandle = Omit<TestServer, 'close'> & { admin: ApiClient };

/**
 * The set-up every server test file shares: a fresh server over a fresh database (its own schema), with an
 * admin account, before each test (or once for the file), closed after. The handle reads the current
 * server, so use it inside tests and hooks:
 *
 *     const t = useTestServer({ engine });
 *     it('…', async () => { await t.admin.post('/api/workspaces', { name: 'w' }); … t.db … });
 *
 * `inProcess: true` drives `createApp` with `app.fetch` instead of a socket (faster) where no real HTTP is
 * needed; streams, the WebSocket channel, body limits and restarts keep real HTTP.
 */
export function useTestServer(opts: TestServerOptions, scope: 'each' | 'file' = 'each'): ServerHandle {
  let current: TestServer | undefined;
  const need = (): TestServer => {
    if (!current) throw new Error('The test server runs only inside tests and hooks.');
    return current;
  };
  (scope === 'each' ? beforeEach : beforeAll)(async () => {
    current = await startTestServer(opts);
  });
  (scope === 'each' ? afterEach : afterAll)(async () => {
    await current?.close();
    current = undefined;
  });
  return {
    get engine() {
      return need().engine;
    },
    get url() {
      return need().url;
    },
    get adminKey() {
      return need().adminKey;
    },
    get db() {
      return need().db;
    },
    get dbUrl() {
      return need().dbUrl;
    },
    get server() {
      return need().server;
    },
    reap: () => need().reap(),
    admin: apiClient(
      () => need().url,
      () => need().adminKey,
    ),
  };
}
