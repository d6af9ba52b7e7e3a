import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import { type Page, type Webhook, type WebhookDelivery, webhookEventTypes } from '../types.ts';
import { Empty, ErrorNote, Field, LoadError, useAction, useLoad, When } from '../ui.tsx';

/** Webhooks of a workspace: where task outcomes are POSTed, signed with a secret the server never returns. */
export function WebhooksPanel({ workspaceId }: { workspaceId: string }) {
  const hooks = useLoad<Page<Webhook>>(`/api/workspaces/${workspaceId}/webhooks`);
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [events, setEvents] = useState<string[]>([...webhookEventTypes]);
  const action = useAction();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    const done = await action.run(async () => {
      await api.post(`/api/workspaces/${workspaceId}/webhooks`, { url, secret, events });
      return true;
    });
    if (!done) return;
    setUrl('');
    setSecret('');
    hooks.reload();
  };
  const remove = (id: string) =>
    action.run(async () => {
      await api.del(`/api/webhooks/${id}`);
      hooks.reload();
    });
  if (hooks.error?.missing) {
    return (
      <section className="panel" aria-labelledby="hooks-title">
        <h2 id="hooks-title">Webhooks</h2>
        <LoadError error={hooks.error} what="webhooks" />
      </section>
    );
  }
  return (
    <section className="panel" aria-labelledby="hooks-title">
      <h2 id="hooks-title">Webhooks</h2>
      <LoadError error={hooks.error} what="webhooks" />
      <ErrorNote error={action.error} />
      {hooks.data && hooks.data.items.length === 0 ? (
        <Empty>No webhook: add one to hear when this workspace’s tasks finish or ask a question.</Empty>
      ) : null}
      <ul className="hooks">
        {hooks.data?.items.map((h) => (
          <li key={h.id}>
            <code>{h.url}</code> <span className="note">{h.events.join(', ')}</span>{' '}
            <button
              type="button"
              className="danger"
              onClick={() => void remove(h.id)}
              aria-label={`Delete webhook ${h.url}`}
            >
              Delete
            </button>
            <Deliveries hookId={h.id} />
          </li>
        ))}
      </ul>
      <form onSubmit={create} aria-label="Add a webhook">
        <div className="grid">
          <Field label="URL">
            {(id) => (
              <input
                id={id}
                type="url"
                value={url}
                onChange={(e) => setUrl(e.target.value)}
                required
                placeholder="https://example.com/buildd"
              />
            )}
          </Field>
          <Field label="Secret" hint="Signs each delivery (Buildd-Signature); not shown again.">
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                type="password"
                autoComplete="off"
                value={secret}
                onChange={(e) => setSecret(e.target.value)}
                required
              />
            )}
          </Field>
        </div>
        <fieldset>
          <legend>Events</legend>
          {webhookEventTypes.map((t) => (
            <label key={t} className="check">
              <input
                type="checkbox"
                checked={events.includes(t)}
                onChange={(e) =>
                  setEvents((list) => (e.target.checked ? [...list, t] : list.filter((x) => x !== t)))
                }
              />
              {t}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={action.busy || events.length === 0}>
          Add webhook
        </button>
      </form>
    </section>
  );
}

/** What the receiver answered to a delivery's last attempt, as a sentence. */
function lastAnswer(d: WebhookDelivery): string {
  const last = d.log.at(-1);
  if (!last) return d.status === 'pending' ? 'not sent yet' : '—';
  const answer = last.statusCode !== null ? `HTTP ${last.statusCode}` : (last.error ?? 'no answer');
  return `${answer} in ${last.durationMs} ms`;
}

function Deliveries({ hookId }: { hookId: string }) {
  const [open, setOpen] = useState(false);
  const deliveries = useLoad<Page<WebhookDelivery>>(open ? `/api/webhooks/${hookId}/deliveries` : null);
  const test = useAction();
  const sendTest = () =>
    test.run(async () => {
      await api.post(`/api/webhooks/${hookId}/test`);
      deliveries.reload();
    });
  return (
    <details onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Delivery log</summary>
      <LoadError error={deliveries.error} what="the delivery log" />
      <ErrorNote error={test.error} />
      <p className="actions">
        <button type="button" onClick={() => void sendTest()} disabled={test.busy}>
          Send a test delivery
        </button>
        <button type="button" onClick={deliveries.reload} disabled={deliveries.loading}>
          Refresh
        </button>
      </p>
      {deliveries.data && deliveries.data.items.length === 0 ? (
        <p className="note">Nothing delivered yet.</p>
      ) : null}
      {deliveries.data?.items.length ? (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Last answer</th>
              <th scope="col">Attempts</th>
              <th scope="col">When</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.data.items.map((d) => (
              <tr key={d.id}>
                <td data-label="Event">{d.type}</td>
                <td data-label="Status">
                  <span className={`badge badge-${d.status === 'delivered' ? 'completed' : d.status}`}>
                    {d.status}
                  </span>
                </td>
                <td data-label="Last answer">{lastAnswer(d)}</td>
                <td data-label="Attempts">
                  {d.attempts}
                  {d.nextAttemptAt && d.status === 'pending' ? (
                    <>
                      {' '}
                      · next <When at={d.nextAttemptAt} />
                    </>
                  ) : null}
                </td>
                <td data-label="When">
                  <When at={d.deliveredAt ?? d.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </details>
  );
}
