import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import { navigate } from '../router.tsx';
import type { Me } from '../types.ts';
import { ErrorNote, Field, useAction } from '../ui.tsx';

/** The API key is sent once and exchanged for an HttpOnly session cookie; the page never stores it. */
export function LoginPage({ onLoggedIn }: { onLoggedIn: (me: Me) => void }) {
  const [apiKey, setApiKey] = useState('');
  const action = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const me = await action.run(() => api.post<Me>('/api/session', { apiKey: apiKey.trim() }));
    setApiKey('');
    if (!me) return;
    const next = new URLSearchParams(location.search).get('next');
    onLoggedIn(me);
    navigate(next?.startsWith('/') && !next.startsWith('//') ? next : '/tasks', true);
  };
  return (
    <main id="main" className="login">
      <h1>buildd</h1>
      <p>Log in with a buildd API key.</p>
      <form onSubmit={submit} aria-label="Log in">
        <Field
          label="API key"
          hint="The first start of buildd-server printed the admin's key and saved it in ~/.buildd/config.json. An admin can make keys for others under Accounts."
        >
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              type="password"
              autoComplete="off"
              spellCheck={false}
              placeholder="buildd_user_…"
              value={apiKey}
              onChange={(e) => setApiKey(e.target.value)}
              required
            />
          )}
        </Field>
        <ErrorNote error={action.error} />
        <button type="submit" className="primary" disabled={action.busy || apiKey.trim() === ''}>
          {action.busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
