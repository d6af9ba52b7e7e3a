import { useCoalesced, useEventStream, useInterval } from '../live.ts';
import type { AgentView, Me, Page } from '../types.ts';
import { Empty, LoadError, useLoad, When } from '../ui.tsx';
import { StartAgentHelp } from './start-agent.tsx';

/** Agents of the caller (all of them for an admin), online first. */
export function AgentsPage({ me }: { me: Me }) {
  const agents = useLoad<Page<AgentView>>('/api/agents');
  const refresh = useCoalesced(agents.reload, 300);
  const feed = useEventStream('/api/stream', { agent: refresh, task: refresh });
  useInterval(refresh, 10_000, true);
  const items = [...(agents.data?.items ?? [])].sort((a, b) => Number(b.online) - Number(a.online));
  return (
    <section aria-labelledby="agents-title">
      <h1 id="agents-title">Agents</h1>
      <p className="note">
        {me.account.level === 'admin' ? 'Every account’s agents.' : 'Your account’s agents.'}{' '}
        {feed === 'open' ? 'Live.' : ''}
      </p>
      <LoadError error={agents.error} what="agents" />
      {agents.data && items.filter((a) => a.online).length === 0 ? <StartAgentHelp /> : null}
      {agents.data && items.length === 0 ? <Empty>No agent has connected to this server yet.</Empty> : null}
      {items.length > 0 ? (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">State</th>
              <th scope="col">Capabilities</th>
              <th scope="col">Sandbox</th>
              <th scope="col">Running</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id}>
                <td data-label="Agent">
                  <strong>{a.name}</strong>
                  <br />
                  <small>
                    {a.host ?? ''} {a.version ? `v${a.version}` : ''}
                  </small>
                </td>
                <td data-label="State">
                  <span className={`badge ${a.online ? 'badge-online' : 'badge-offline'}`}>
                    {a.online ? 'online' : 'offline'}
                  </span>
                </td>
                <td data-label="Capabilities">{a.capabilities.length ? a.capabilities.join(', ') : '—'}</td>
                <td data-label="Sandbox">
                  {a.sandboxed === true ? (
                    'sandboxed'
                  ) : a.sandboxed === false ? (
                    <span className="warn">not sandboxed</span>
                  ) : (
                    'not reported'
                  )}
                </td>
                <td data-label="Running">
                  {a.runningTasks === undefined
                    ? '—'
                    : a.runningTasks === 0
                      ? 'idle'
                      : `${a.runningTasks} running`}
                </td>
                <td data-label="Last seen">
                  <When at={a.lastSeenAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
