import { query } from '../api.ts';
import { useCoalesced, useEventStream, useInterval } from '../live.ts';
import { Link, navigate } from '../router.tsx';
import {
  type AgentView,
  type Me,
  type Page,
  type TaskView,
  taskStates,
  type WorkspaceView,
} from '../types.ts';
import { Empty, LoadError, money, StatusBadge, useLoad, When } from '../ui.tsx';
import { StartAgentHelp } from './start-agent.tsx';

/** Filters live in the address, so a filtered list can be bookmarked and shared. */
function useFilters() {
  const params = new URLSearchParams(location.search);
  const filters = {
    workspace: params.get('workspace') ?? '',
    status: params.get('status') ?? '',
    mine: params.get('mine') === '1',
  };
  const set = (change: Partial<typeof filters>) => {
    const next = { ...filters, ...change };
    navigate(
      `/tasks${query({ workspace: next.workspace, status: next.status, mine: next.mine ? '1' : undefined })}`,
      true,
    );
  };
  return { filters, set };
}

export function TasksPage({ me }: { me: Me }) {
  const { filters, set } = useFilters();
  const workspaces = useLoad<Page<WorkspaceView>>('/api/workspaces?limit=500');
  const agents = useLoad<Page<AgentView>>('/api/agents');
  const tasks = useLoad<Page<TaskView>>(
    `/api/tasks${query({
      workspaceId: filters.workspace,
      status: filters.status,
      createdBy: filters.mine ? 'me' : undefined,
      limit: '200',
    })}`,
  );
  const refresh = useCoalesced(() => {
    tasks.reload();
    agents.reload();
  }, 300);
  const feed = useEventStream(`/api/stream${query({ workspaceId: filters.workspace })}`, {
    task: refresh,
    agent: refresh,
  });
  // Without the live feed (an older server), a gentle poll keeps the list current.
  useInterval(refresh, 4000, feed === 'unavailable');

  const wsName = new Map((workspaces.data?.items ?? []).map((w) => [w.id, w.name]));
  const shown = tasks.data?.items ?? [];
  const noWorkspaces = workspaces.data && workspaces.data.items.length === 0;
  const online = (agents.data?.items ?? []).filter((a) => a.online).length;
  const filtered = filters.workspace || filters.status || filters.mine;

  return (
    <section aria-labelledby="tasks-title">
      <div className="title-row">
        <h1 id="tasks-title">Tasks</h1>
        {!noWorkspaces ? (
          <Link to="/tasks/new" className="button primary">
            New task
          </Link>
        ) : null}
      </div>
      <form className="filters" aria-label="Filter tasks" onSubmit={(e) => e.preventDefault()}>
        <label>
          Workspace
          <select value={filters.workspace} onChange={(e) => set({ workspace: e.target.value })}>
            <option value="">All</option>
            {(workspaces.data?.items ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={filters.status} onChange={(e) => set({ status: e.target.value })}>
            <option value="">Any</option>
            {taskStates.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={filters.mine} onChange={(e) => set({ mine: e.target.checked })} />
          Created by me
        </label>
        <span className="live" role="status">
          {feed === 'open' ? 'Live' : feed === 'unavailable' ? 'Refreshing every few seconds' : ''}
        </span>
      </form>
      <LoadError error={tasks.error} what="the task list" />
      {agents.data && online === 0 ? <StartAgentHelp /> : null}
      {noWorkspaces ? (
        <Empty>
          <p>There is no workspace yet, and every task belongs to one (usually a git repository).</p>
          {me.account.level === 'admin' ? (
            <Link to="/workspaces/new" className="button primary">
              Create a workspace
            </Link>
          ) : (
            <p>Ask an admin to create one or to give you access.</p>
          )}
        </Empty>
      ) : tasks.data && shown.length === 0 ? (
        <Empty>
          {filtered ? (
            <p>No task matches these filters.</p>
          ) : (
            <>
              <p>No tasks yet. Describe a change and an agent will make it on a branch.</p>
              <Link to="/tasks/new" className="button primary">
                Create a task
              </Link>
            </>
          )}
        </Empty>
      ) : shown.length > 0 ? (
        <table className="list">
          <caption className="sr-only">Tasks, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Status</th>
              <th scope="col">Workspace</th>
              <th scope="col">Priority</th>
              <th scope="col">Cost</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((t) => (
              <tr key={t.id}>
                <td data-label="Title">
                  <Link to={`/tasks/${t.id}`}>{t.title}</Link>
                </td>
                <td data-label="Status">
                  <StatusBadge status={t.status} />
                </td>
                <td data-label="Workspace">{wsName.get(t.workspaceId) ?? t.workspaceId}</td>
                <td data-label="Priority">{t.priority}</td>
                <td data-label="Cost">{money(t.costUsd)}</td>
                <td data-label="Created">
                  <When at={t.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {tasks.data?.nextCursor ? (
        <p className="note">Showing the newest 200; narrow the filters to see older tasks.</p>
      ) : null}
    </section>
  );
}
