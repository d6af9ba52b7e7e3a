import { type ReactElement, useCallback, useEffect, useRef, useState } from 'react';
import { api, setUnauthenticatedHandler } from './api.ts';
import { AccountsPage } from './pages/accounts.tsx';
import { AgentsPage } from './pages/agents.tsx';
import { LoginPage } from './pages/login.tsx';
import { NewTaskPage } from './pages/new-task.tsx';
import { ReviewPage } from './pages/review.tsx';
import { TaskPage } from './pages/task.tsx';
import { TasksPage } from './pages/tasks.tsx';
import { UsagePage } from './pages/usage.tsx';
import { WorkspacePage } from './pages/workspace.tsx';
import { WorkspacesPage } from './pages/workspaces.tsx';
import { Link, match, navigate, usePath } from './router.tsx';
import type { Me } from './types.ts';
import { ErrorNote, useAction } from './ui.tsx';

type Session = { state: 'checking' } | { state: 'out' } | { state: 'in'; me: Me };

/** The whole dashboard: who is logged in, the navigation, and the page for the current path. */
export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session>({ state: 'checking' });
  const loggedOut = useCallback(() => setSession({ state: 'out' }), []);

  useEffect(() => {
    setUnauthenticatedHandler(loggedOut);
    api.get<Me>('/api/me').then(
      (me) => setSession({ state: 'in', me }),
      () => setSession({ state: 'out' }),
    );
  }, [loggedOut]);

  useEffect(() => {
    if (session.state === 'out' && path !== '/login') {
      const next = path === '/' ? '' : `?next=${encodeURIComponent(path + location.search)}`;
      navigate(`/login${next}`, true);
    }
    if (session.state === 'in' && (path === '/login' || path === '/')) navigate('/tasks', true);
  }, [session, path]);

  if (session.state === 'checking') return <p className="loading">Loading…</p>;
  if (session.state === 'out') return <LoginPage onLoggedIn={(me) => setSession({ state: 'in', me })} />;
  return <Shell me={session.me} path={path} onLoggedOut={loggedOut} />;
}

const pages: {
  pattern: string;
  title: string;
  render: (p: Record<string, string>, me: Me) => ReactElement;
}[] = [
  { pattern: '/tasks', title: 'Tasks', render: (_p, me) => <TasksPage me={me} /> },
  { pattern: '/tasks/new', title: 'New task', render: () => <NewTaskPage /> },
  { pattern: '/tasks/:id', title: 'Task', render: (p, me) => <TaskPage id={p.id!} me={me} /> },
  { pattern: '/tasks/:id/review', title: 'Review', render: (p) => <ReviewPage id={p.id!} /> },
  { pattern: '/agents', title: 'Agents', render: (_p, me) => <AgentsPage me={me} /> },
  { pattern: '/workspaces', title: 'Workspaces', render: (_p, me) => <WorkspacesPage me={me} /> },
  { pattern: '/workspaces/new', title: 'New workspace', render: (_p, me) => <WorkspacePage me={me} /> },
  { pattern: '/workspaces/:id', title: 'Workspace', render: (p, me) => <WorkspacePage id={p.id} me={me} /> },
  { pattern: '/accounts', title: 'Accounts', render: (_p, me) => <AccountsPage me={me} /> },
  { pattern: '/usage', title: 'Usage', render: (_p, me) => <UsagePage me={me} /> },
];

function Shell({ me, path, onLoggedOut }: { me: Me; path: string; onLoggedOut: () => void }) {
  const logout = useAction();
  const found = pages
    .map((p) => ({ page: p, params: match(p.pattern, path) }))
    .find((m) => m.params !== undefined);
  useEffect(() => {
    document.title = found ? `${found.page.title} · buildd` : 'buildd';
  }, [found]);
  // After moving to another page, keyboard and screen-reader users start at its content, not at the top.
  const firstPath = useRef(path);
  useEffect(() => {
    if (path !== firstPath.current) document.getElementById('main')?.focus({ preventScroll: true });
  }, [path]);
  const section = `/${path.split('/')[1] ?? ''}`;
  const nav = [
    ['/tasks', 'Tasks'],
    ['/agents', 'Agents'],
    ['/workspaces', 'Workspaces'],
    ...(me.account.level === 'admin' ? [['/accounts', 'Accounts']] : []),
    ['/usage', 'Usage'],
  ] as const;
  const doLogout = () =>
    logout.run(async () => {
      await api.del('/api/session');
      onLoggedOut();
    });
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/tasks" className="brand">
          buildd
        </Link>
        <nav aria-label="Main">
          {nav.map(([to, label]) => (
            <Link key={to} to={to} current={section === to}>
              {label}
            </Link>
          ))}
        </nav>
        <div className="who">
          <span title={`${me.account.type} account, ${me.account.level}`}>
            {me.account.name}
            {me.account.level === 'admin' ? ' (admin)' : ''}
          </span>
          <button type="button" onClick={doLogout} disabled={logout.busy}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorNote error={logout.error} />
        {found ? (
          found.page.render(found.params!, me)
        ) : (
          <section>
            <h1>Not found</h1>
            <p>
              There is no page at {path}. <Link to="/tasks">Go to the tasks.</Link>
            </p>
          </section>
        )}
      </main>
    </>
  );
}
