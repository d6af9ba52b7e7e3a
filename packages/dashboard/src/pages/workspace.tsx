import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api } from '../api.ts';
import { Link, navigate } from '../router.tsx';
import type { Me, WorkspaceSettings, WorkspaceView } from '../types.ts';
import { ErrorNote, Field, LoadError, splitList, useAction, useLoad } from '../ui.tsx';
import { MembersPanel } from './workspace-members.tsx';
import { WebhooksPanel } from './workspace-webhooks.tsx';

const blank = {
  name: '',
  repoUrl: '',
  defaultBranch: 'main',
  access: 'open',
  maxRunningTasks: '',
  model: '',
  maxTurns: '',
  budgetUsd: '',
  branchPrefix: '',
  instructions: '',
  push: true,
  allowedDomains: '',
  githubRepo: '',
};
type Form = typeof blank;

function formOf(w: WorkspaceView): Form {
  const c = w.config;
  return {
    name: w.name,
    repoUrl: w.repoUrl ?? '',
    defaultBranch: w.defaultBranch,
    access: w.access,
    maxRunningTasks: w.maxRunningTasks?.toString() ?? '',
    model: c.model ?? '',
    maxTurns: c.maxTurns?.toString() ?? '',
    budgetUsd: c.budgetUsd?.toString() ?? '',
    branchPrefix: c.branchPrefix ?? '',
    instructions: c.instructions ?? '',
    push: c.push ?? true,
    allowedDomains: (c.allowedDomains ?? []).join(', '),
    githubRepo: c.githubRepo ?? '',
  };
}

/** The body's `githubToken`: a new token to set, null to remove it, undefined to keep it. */
function tokenOf(typed: string, remove: boolean): string | null | undefined {
  if (remove) return null;
  return typed.trim() || undefined;
}

/** The body for POST/PATCH: only what is set, so server defaults apply to the rest. */
function bodyOf(f: Form, existing: WorkspaceView | undefined, githubToken: string | null | undefined) {
  const config: WorkspaceSettings = { ...(existing?.config ?? {}) };
  const put = <K extends keyof WorkspaceSettings>(k: K, v: WorkspaceSettings[K] | undefined) => {
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) delete config[k];
    else config[k] = v;
  };
  put('model', f.model.trim() || undefined);
  put('maxTurns', f.maxTurns ? Number(f.maxTurns) : undefined);
  put('budgetUsd', f.budgetUsd ? Number(f.budgetUsd) : undefined);
  put('branchPrefix', f.branchPrefix.trim() || undefined);
  put('instructions', f.instructions.trim() || undefined);
  put('push', f.push);
  put('allowedDomains', splitList(f.allowedDomains));
  put('githubRepo', f.githubRepo.trim() || undefined);
  return {
    name: f.name.trim(),
    repoUrl: f.repoUrl.trim() || null,
    defaultBranch: f.defaultBranch.trim() || 'main',
    access: f.access,
    maxRunningTasks: f.maxRunningTasks ? Number(f.maxRunningTasks) : null,
    config,
    ...(githubToken !== undefined ? { githubToken } : {}),
  };
}

/** Create (no id) or view/edit one workspace; only admins may change it. */
export function WorkspacePage({ id, me }: { id?: string; me: Me }) {
  const ws = useLoad<WorkspaceView>(id ? `/api/workspaces/${encodeURIComponent(id)}` : null);
  const [form, setForm] = useState<Form>(blank);
  const [saved, setSaved] = useState(false);
  // The GitHub token is write-only: an uncontrolled field (React never mirrors it into the page's HTML),
  // emptied after each save; the API only ever says whether one is set.
  const tokenInput = useRef<HTMLInputElement>(null);
  const [removeToken, setRemoveToken] = useState(false);
  const action = useAction();
  const admin = me.account.level === 'admin';
  useEffect(() => {
    if (ws.data) setForm(formOf(ws.data));
  }, [ws.data]);

  const set = (k: keyof Form) => (e: { target: { value: string; checked?: boolean; type?: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.type === 'checkbox' ? !!e.target.checked : e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const body = bodyOf(form, ws.data, tokenOf(tokenInput.current?.value ?? '', removeToken));
    const result = await action.run(() =>
      id
        ? api.patch<WorkspaceView>(`/api/workspaces/${ws.data?.id ?? id}`, body)
        : api.post<WorkspaceView>('/api/workspaces', body),
    );
    if (!result) return;
    if (tokenInput.current) tokenInput.current.value = '';
    setRemoveToken(false);
    if (id) {
      ws.setData(result);
      setSaved(true);
    } else navigate(`/workspaces/${result.id}`, true);
  };

  if (id && ws.error) return <LoadError error={ws.error} what="this workspace" />;
  if (id && !ws.data) return <p className="loading">Loading…</p>;
  if (!id && !admin) return <p className="error">Only an admin account may create workspaces.</p>;
  const readOnly = !admin;
  return (
    <article aria-labelledby="workspace-title">
      <p className="crumbs">
        <Link to="/workspaces">Workspaces</Link>
      </p>
      <div className="title-row">
        <h1 id="workspace-title">{id ? ws.data!.name : 'New workspace'}</h1>
        {id ? (
          <Link to={`/tasks?workspace=${ws.data!.id}`} className="button">
            Its tasks
          </Link>
        ) : null}
      </div>
      <form onSubmit={submit} className="form" aria-label="Workspace settings">
        <fieldset disabled={readOnly}>
          <legend>Repository</legend>
          <div className="grid">
            <Field label="Name" hint="Letters, digits, “.”, “_” and “-”; agents accept it as --workspace.">
              {(fid, hint) => (
                <input id={fid} aria-describedby={hint} value={form.name} onChange={set('name')} required />
              )}
            </Field>
            <Field label="Repository URL" hint="Empty: tasks run in a scratch directory.">
              {(fid, hint) => (
                <input
                  id={fid}
                  aria-describedby={hint}
                  value={form.repoUrl}
                  onChange={set('repoUrl')}
                  placeholder="git@github.com:org/repo.git"
                />
              )}
            </Field>
            <Field label="Default branch">
              {(fid) => <input id={fid} value={form.defaultBranch} onChange={set('defaultBranch')} />}
            </Field>
            <Field
              label="GitHub repository"
              hint="owner/name: the server opens a pull request for each pushed branch."
            >
              {(fid, hint) => (
                <input
                  id={fid}
                  aria-describedby={hint}
                  value={form.githubRepo}
                  onChange={set('githubRepo')}
                  placeholder="org/repo"
                />
              )}
            </Field>
          </div>
          <div className="grid">
            <Field
              label="GitHub token"
              hint="Write-only: stored encrypted, never shown again. Empty keeps the current one."
            >
              {(fid, hint) => (
                <input
                  id={fid}
                  ref={tokenInput}
                  aria-describedby={hint}
                  type="password"
                  autoComplete="new-password"
                  disabled={removeToken}
                  placeholder={
                    ws.data?.hasGithubToken ? '(set: type a new one to replace it)' : 'github_pat_…'
                  }
                />
              )}
            </Field>
            <div className="field">
              <p className="note">GitHub token: {ws.data?.hasGithubToken ? 'set' : 'not set'}</p>
              {ws.data?.hasGithubToken ? (
                <label className="check">
                  <input
                    type="checkbox"
                    checked={removeToken}
                    onChange={(e) => setRemoveToken(e.target.checked)}
                  />{' '}
                  Remove token
                </label>
              ) : null}
            </div>
          </div>
          <label className="check">
            <input type="checkbox" checked={form.push} onChange={set('push')} /> Agents push task branches to
            the origin
          </label>
        </fieldset>
        <fieldset disabled={readOnly}>
          <legend>Access and limits</legend>
          <div className="grid">
            <Field
              label="Access"
              hint="Open: every account may create, see and claim. Restricted: admins and members granted below."
            >
              {(fid, hint) => (
                <select id={fid} aria-describedby={hint} value={form.access} onChange={set('access')}>
                  <option value="open">open</option>
                  <option value="restricted">restricted</option>
                </select>
              )}
            </Field>
            <Field
              label="Running limit"
              hint="Most tasks of this workspace running at once; empty = no limit."
            >
              {(fid, hint) => (
                <input
                  id={fid}
                  aria-describedby={hint}
                  type="number"
                  min={1}
                  value={form.maxRunningTasks}
                  onChange={set('maxRunningTasks')}
                />
              )}
            </Field>
          </div>
        </fieldset>
        <fieldset disabled={readOnly}>
          <legend>Defaults for its tasks</legend>
          <div className="grid">
            <Field label="Model">
              {(fid) => <input id={fid} value={form.model} onChange={set('model')} />}
            </Field>
            <Field label="Max turns">
              {(fid) => (
                <input id={fid} type="number" min={1} value={form.maxTurns} onChange={set('maxTurns')} />
              )}
            </Field>
            <Field label="Budget per task (USD)">
              {(fid) => (
                <input
                  id={fid}
                  type="number"
                  min={0}
                  step="0.01"
                  value={form.budgetUsd}
                  onChange={set('budgetUsd')}
                />
              )}
            </Field>
            <Field label="Branch prefix" hint="Default buildd/.">
              {(fid, hint) => (
                <input
                  id={fid}
                  aria-describedby={hint}
                  value={form.branchPrefix}
                  onChange={set('branchPrefix')}
                />
              )}
            </Field>
          </div>
          <Field
            label="Network allowed to runs"
            hint="Domains a task’s commands may reach inside the sandbox; separate with commas. Empty: none."
          >
            {(fid, hint) => (
              <input
                id={fid}
                aria-describedby={hint}
                value={form.allowedDomains}
                onChange={set('allowedDomains')}
                placeholder="registry.npmjs.org, github.com"
              />
            )}
          </Field>
          <Field label="Extra instructions" hint="Appended to every task’s system prompt.">
            {(fid, hint) => (
              <textarea
                id={fid}
                aria-describedby={hint}
                rows={4}
                value={form.instructions}
                onChange={set('instructions')}
              />
            )}
          </Field>
        </fieldset>
        <ErrorNote error={action.error} />
        {saved ? <p role="status">Saved.</p> : null}
        {admin ? (
          <div className="actions">
            <button type="submit" className="primary" disabled={action.busy}>
              {id ? 'Save' : 'Create workspace'}
            </button>
          </div>
        ) : (
          <p className="note">Only admins change workspaces.</p>
        )}
      </form>
      {id && admin ? (
        <>
          <MembersPanel workspaceId={ws.data!.id} />
          <WebhooksPanel workspaceId={ws.data!.id} />
        </>
      ) : null}
    </article>
  );
}
