import { Link } from '../router.tsx';
import type { Me, Page, WorkspaceView } from '../types.ts';
import { Empty, LoadError, useLoad } from '../ui.tsx';

export function WorkspacesPage({ me }: { me: Me }) {
  const workspaces = useLoad<Page<WorkspaceView>>('/api/workspaces?limit=500');
  const admin = me.account.level === 'admin';
  return (
    <section aria-labelledby="ws-title">
      <div className="title-row">
        <h1 id="ws-title">Workspaces</h1>
        {admin ? (
          <Link to="/workspaces/new" className="button primary">
            New workspace
          </Link>
        ) : null}
      </div>
      <LoadError error={workspaces.error} what="workspaces" />
      {workspaces.data?.items.length === 0 ? (
        <Empty>
          {admin ? (
            <>
              <p>
                No workspace yet. A workspace is usually one git repository; its tasks run on branches of it.
              </p>
              <Link to="/workspaces/new" className="button primary">
                Create a workspace
              </Link>
            </>
          ) : (
            <p>You can see no workspace. Ask an admin to create one or to grant you access.</p>
          )}
        </Empty>
      ) : null}
      {workspaces.data?.items.length ? (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Repository</th>
              <th scope="col">Branch</th>
              <th scope="col">Access</th>
              <th scope="col">Running limit</th>
            </tr>
          </thead>
          <tbody>
            {workspaces.data.items.map((w) => (
              <tr key={w.id}>
                <td data-label="Name">
                  <Link to={`/workspaces/${w.id}`}>{w.name}</Link>
                </td>
                <td data-label="Repository">{w.repoUrl ?? 'none (scratch directory)'}</td>
                <td data-label="Branch">{w.defaultBranch}</td>
                <td data-label="Access">{w.access}</td>
                <td data-label="Running limit">{w.maxRunningTasks ?? 'none'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
