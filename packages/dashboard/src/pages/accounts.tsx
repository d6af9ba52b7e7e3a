import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import type { Account, ApiKey, Me, Page } from '../types.ts';
import { CopyButton, ErrorNote, Field, LoadError, money, useAction, useLoad, When } from '../ui.tsx';

/** A new key, shown this once: the server keeps only its hash. */
function NewKey({ apiKey, onDismiss }: { apiKey: string; onDismiss: () => void }) {
  return (
    <div className="panel newkey" role="alert">
      <p>
        <strong>The new API key, shown only this once.</strong> Copy it now; buildd keeps only its hash.
      </p>
      <pre className="cmd">{apiKey}</pre>
      <div className="actions">
        <CopyButton value={apiKey} label="Copy key" />
        <button type="button" onClick={onDismiss}>
          I have saved it
        </button>
      </div>
    </div>
  );
}

const numberOrNull = (s: string) => (s.trim() === '' ? null : Number(s));

/** Accounts with their limits and keys (admins only; the API answers 403 to anyone else). */
export function AccountsPage({ me }: { me: Me }) {
  // A member asks too: the API's 403 sentence is what the page shows (the server decides, not the page).
  const accounts = useLoad<Page<Account>>('/api/accounts?limit=500');
  const [shownKey, setShownKey] = useState<string | undefined>(undefined);
  if (accounts.error || me.account.level !== 'admin') {
    return (
      <section aria-labelledby="acc-title">
        <h1 id="acc-title">Accounts</h1>
        <LoadError error={accounts.error} what="accounts" />
      </section>
    );
  }
  return (
    <section aria-labelledby="acc-title">
      <h1 id="acc-title">Accounts and keys</h1>
      {shownKey ? <NewKey apiKey={shownKey} onDismiss={() => setShownKey(undefined)} /> : null}
      {accounts.data?.items.map((a) => (
        <AccountRow
          key={a.id}
          account={a}
          isMe={a.id === me.account.id}
          onKey={setShownKey}
          onChanged={accounts.reload}
        />
      ))}
      <CreateAccount
        onCreated={(key) => {
          setShownKey(key);
          accounts.reload();
        }}
      />
    </section>
  );
}

function CreateAccount({ onCreated }: { onCreated: (apiKey: string) => void }) {
  const [f, setF] = useState({ name: '', type: 'user', level: 'member', workers: '', sessions: '', cap: '' });
  const action = useAction();
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) =>
    setF((x) => ({ ...x, [k]: e.target.value }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const created = await action.run(() =>
      api.post<{ account: Account; apiKey: string }>('/api/accounts', {
        name: f.name,
        type: f.type,
        level: f.level,
        maxConcurrentWorkers: numberOrNull(f.workers) ?? undefined,
        maxConcurrentSessions: numberOrNull(f.sessions) ?? undefined,
        maxCostPerDayUsd: numberOrNull(f.cap),
      }),
    );
    if (!created) return;
    setF({ name: '', type: 'user', level: 'member', workers: '', sessions: '', cap: '' });
    onCreated(created.apiKey);
  };
  return (
    <form className="panel" onSubmit={submit} aria-labelledby="new-acc-title">
      <h2 id="new-acc-title">New account</h2>
      <div className="grid">
        <Field label="Name">{(id) => <input id={id} value={f.name} onChange={set('name')} required />}</Field>
        <Field label="Type" hint="user: a person; service: a shared agent; action: a GitHub Action.">
          {(id, hint) => (
            <select id={id} aria-describedby={hint} value={f.type} onChange={set('type')}>
              <option value="user">user</option>
              <option value="service">service</option>
              <option value="action">action</option>
            </select>
          )}
        </Field>
        <Field label="Level">
          {(id) => (
            <select id={id} value={f.level} onChange={set('level')}>
              <option value="member">member</option>
              <option value="admin">admin</option>
            </select>
          )}
        </Field>
        <Field label="Concurrent workers" hint="Default 3.">
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              type="number"
              min={0}
              value={f.workers}
              onChange={set('workers')}
            />
          )}
        </Field>
        <Field label="OAuth sessions" hint="Default 2.">
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              type="number"
              min={0}
              value={f.sessions}
              onChange={set('sessions')}
            />
          )}
        </Field>
        <Field label="Daily cost cap (USD)" hint="Empty: no cap.">
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              type="number"
              min={0}
              step="0.01"
              value={f.cap}
              onChange={set('cap')}
            />
          )}
        </Field>
      </div>
      <ErrorNote error={action.error} />
      <button type="submit" className="primary" disabled={action.busy}>
        Create account
      </button>
    </form>
  );
}

function AccountRow(props: {
  account: Account;
  isMe: boolean;
  onKey: (k: string) => void;
  onChanged: () => void;
}) {
  const a = props.account;
  const [open, setOpen] = useState(false);
  const keys = useLoad<Page<ApiKey>>(open ? `/api/accounts/${a.id}/keys` : null);
  const [limits, setLimits] = useState({
    workers: String(a.maxConcurrentWorkers),
    sessions: String(a.maxConcurrentSessions),
    cap: a.maxCostPerDayUsd?.toString() ?? '',
  });
  const action = useAction();
  const saveLimits = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      await api.patch(`/api/accounts/${a.id}`, {
        maxConcurrentWorkers: Number(limits.workers),
        maxConcurrentSessions: Number(limits.sessions),
        maxCostPerDayUsd: numberOrNull(limits.cap),
      });
      props.onChanged();
    });
  };
  const newKey = () =>
    action.run(async () => {
      const made = await api.post<{ apiKey: string }>(`/api/accounts/${a.id}/keys`, { name: 'dashboard' });
      props.onKey(made.apiKey);
      keys.reload();
    });
  const revoke = (k: ApiKey) =>
    action.run(async () => {
      await api.del(`/api/keys/${k.id}`);
      keys.reload();
    });
  return (
    <details className="account" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>
        <strong>{a.name}</strong> <span className="badge">{a.type}</span>{' '}
        <span className="badge">{a.level}</span>
        {props.isMe ? ' (you)' : ''}{' '}
        <span className="note">
          {a.maxConcurrentWorkers} workers · {a.maxConcurrentSessions} OAuth sessions ·{' '}
          {a.maxCostPerDayUsd === null ? 'no daily cap' : `cap ${money(a.maxCostPerDayUsd)} a day`}
        </span>
      </summary>
      <form className="inline" onSubmit={saveLimits} aria-label={`Limits of ${a.name}`}>
        <label>
          Workers
          <input
            type="number"
            min={0}
            value={limits.workers}
            onChange={(e) => setLimits({ ...limits, workers: e.target.value })}
          />
        </label>
        <label>
          OAuth sessions
          <input
            type="number"
            min={0}
            value={limits.sessions}
            onChange={(e) => setLimits({ ...limits, sessions: e.target.value })}
          />
        </label>
        <label>
          Daily cap (USD)
          <input
            type="number"
            min={0}
            step="0.01"
            value={limits.cap}
            placeholder="none"
            onChange={(e) => setLimits({ ...limits, cap: e.target.value })}
          />
        </label>
        <button type="submit" disabled={action.busy}>
          Save limits
        </button>
      </form>
      <ErrorNote error={action.error} />
      <h3>Keys</h3>
      <LoadError error={keys.error} what="keys" />
      <ul className="keys">
        {keys.data?.items.map((k) => (
          <li key={k.id}>
            <code>{k.prefix}…</code> {k.name ?? ''}{' '}
            <span className="note">
              made <When at={k.createdAt} />, used <When at={k.lastUsedAt} />
            </span>{' '}
            {k.revokedAt ? (
              <span className="badge badge-cancelled">revoked</span>
            ) : (
              <button
                type="button"
                className="danger"
                onClick={() => void revoke(k)}
                aria-label={`Revoke key ${k.prefix}`}
              >
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      <button type="button" onClick={() => void newKey()} disabled={action.busy}>
        New key
      </button>
    </details>
  );
}
