import { useState } from 'react';
import { api } from '../api.ts';
import type { Account, Page, WorkspaceMember } from '../types.ts';
import { ErrorNote, LoadError, useAction, useLoad } from '../ui.tsx';

/** Who may claim and create in this workspace (what matters for a restricted one). */
export function MembersPanel({ workspaceId }: { workspaceId: string }) {
  const members = useLoad<Page<WorkspaceMember>>(`/api/workspaces/${workspaceId}/members`);
  const accounts = useLoad<Page<Account>>('/api/accounts?limit=500');
  const action = useAction();
  const [adding, setAdding] = useState('');
  const grants = new Map((members.data?.items ?? []).map((m) => [m.accountId, m]));
  // The box shows the new grant at once (a controlled checkbox would otherwise flip back until the server
  // answers); the list is read again afterwards, so a refusal puts it back as it is.
  const setGrant = (accountId: string, canClaim: boolean, canCreate: boolean) => {
    if (members.data && grants.has(accountId)) {
      members.setData({
        ...members.data,
        items: members.data.items.map((m) => (m.accountId === accountId ? { ...m, canClaim, canCreate } : m)),
      });
    }
    return action.run(async () => {
      try {
        await api.put(`/api/workspaces/${workspaceId}/members/${accountId}`, { canClaim, canCreate });
      } finally {
        members.reload();
      }
    });
  };
  const nameOf = new Map((accounts.data?.items ?? []).map((a) => [a.id, a.name]));
  const others = (accounts.data?.items ?? []).filter((a) => !grants.has(a.id) && a.level !== 'admin');
  return (
    <section className="panel" aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      <p className="note">Admins may do everything; in a restricted workspace members need a grant.</p>
      <LoadError error={members.error} what="workspace members" />
      <ErrorNote error={action.error} />
      {members.data?.items.length ? (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Can claim</th>
              <th scope="col">Can create</th>
            </tr>
          </thead>
          <tbody>
            {members.data.items.map((m) => (
              <tr key={m.accountId}>
                <td data-label="Account">{nameOf.get(m.accountId) ?? m.accountId}</td>
                <td data-label="Can claim">
                  <input
                    type="checkbox"
                    aria-label={`${nameOf.get(m.accountId) ?? m.accountId} can claim`}
                    checked={m.canClaim}
                    onChange={(e) => void setGrant(m.accountId, e.target.checked, m.canCreate)}
                  />
                </td>
                <td data-label="Can create">
                  <input
                    type="checkbox"
                    aria-label={`${nameOf.get(m.accountId) ?? m.accountId} can create`}
                    checked={m.canCreate}
                    onChange={(e) => void setGrant(m.accountId, m.canClaim, e.target.checked)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="note">No grants yet.</p>
      )}
      {others.length ? (
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            if (adding) void setGrant(adding, true, true).then(() => setAdding(''));
          }}
        >
          <label>
            Grant an account
            <select value={adding} onChange={(e) => setAdding(e.target.value)}>
              <option value="">Choose…</option>
              {others.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name} ({a.type})
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={!adding || action.busy}>
            Add with claim and create
          </button>
        </form>
      ) : null}
    </section>
  );
}
