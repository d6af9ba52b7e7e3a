import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import { Link, navigate } from '../router.tsx';
import type { Page, TaskView, WorkspaceView } from '../types.ts';
import { Empty, ErrorNote, Field, LoadError, splitList, useAction, useLoad } from '../ui.tsx';

const runnerChoices = [
  ['any', 'Any agent'],
  ['user', 'A person’s agent (user account)'],
  ['service', 'A service account’s agent'],
  ['action', 'A GitHub Action'],
] as const;

/** Numbers typed in a form: empty means "not set". */
const optionalNumber = (s: string) => (s.trim() === '' ? undefined : Number(s));

export function NewTaskPage() {
  const workspaces = useLoad<Page<WorkspaceView>>('/api/workspaces?limit=500');
  const first = new URLSearchParams(location.search).get('workspace') ?? '';
  const [form, setForm] = useState({
    workspaceId: first,
    title: '',
    prompt: '',
    priority: '0',
    runnerPreference: 'any',
    capabilities: '',
    dependsOn: '',
    maxAttempts: '',
    budgetUsd: '',
    maxTurns: '',
    model: '',
  });
  const action = useAction();
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));
  const items = workspaces.data?.items ?? [];
  const workspaceId = form.workspaceId || items[0]?.id || '';
  const chosen = items.find((w) => w.id === workspaceId);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = {
      workspaceId,
      title: form.title,
      prompt: form.prompt,
      priority: optionalNumber(form.priority),
      runnerPreference: form.runnerPreference,
      requiredCapabilities: splitList(form.capabilities),
      dependsOn: splitList(form.dependsOn),
      maxAttempts: optionalNumber(form.maxAttempts),
      budgetUsd: optionalNumber(form.budgetUsd),
      maxTurns: optionalNumber(form.maxTurns),
      model: form.model.trim() || undefined,
    };
    const task = await action.run(() => api.post<TaskView>('/api/tasks', body));
    if (task) navigate(`/tasks/${task.id}`);
  };

  if (workspaces.data && items.length === 0) {
    return (
      <Empty>
        <p>A task needs a workspace, and you can see none.</p>
        <Link to="/workspaces">See workspaces</Link>
      </Empty>
    );
  }
  return (
    <section aria-labelledby="new-task-title">
      <h1 id="new-task-title">New task</h1>
      <LoadError error={workspaces.error} what="workspaces" />
      <form onSubmit={submit} className="form">
        <Field label="Workspace">
          {(id) => (
            <select id={id} value={workspaceId} onChange={set('workspaceId')} required>
              {items.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                  {w.repoUrl ? ` — ${w.repoUrl}` : ' — no repository (scratch directory)'}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Title">
          {(id) => <input id={id} value={form.title} onChange={set('title')} maxLength={500} required />}
        </Field>
        <Field label="Prompt" hint="What Claude should do, as you would tell a colleague.">
          {(id, hint) => (
            <textarea
              id={id}
              aria-describedby={hint}
              rows={8}
              value={form.prompt}
              onChange={set('prompt')}
              required
            />
          )}
        </Field>
        <div className="grid">
          <Field label="Priority" hint="Higher runs first.">
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                type="number"
                min={-1000}
                max={1000}
                value={form.priority}
                onChange={set('priority')}
              />
            )}
          </Field>
          <Field label="Runner">
            {(id) => (
              <select id={id} value={form.runnerPreference} onChange={set('runnerPreference')}>
                {runnerChoices.map(([v, label]) => (
                  <option key={v} value={v}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Max attempts" hint="Default 3.">
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                type="number"
                min={1}
                max={20}
                value={form.maxAttempts}
                onChange={set('maxAttempts')}
              />
            )}
          </Field>
          <Field
            label="Budget (USD)"
            hint={
              chosen?.config.budgetUsd
                ? `Workspace default $${chosen.config.budgetUsd}.`
                : 'No limit unless set.'
            }
          >
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                type="number"
                min={0}
                step="0.01"
                value={form.budgetUsd}
                onChange={set('budgetUsd')}
              />
            )}
          </Field>
          <Field
            label="Max turns"
            hint={chosen?.config.maxTurns ? `Workspace default ${chosen.config.maxTurns}.` : undefined}
          >
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                type="number"
                min={1}
                value={form.maxTurns}
                onChange={set('maxTurns')}
              />
            )}
          </Field>
          <Field
            label="Model"
            hint={chosen?.config.model ? `Workspace default ${chosen.config.model}.` : undefined}
          >
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                value={form.model}
                onChange={set('model')}
                placeholder="e.g. claude-sonnet-4-5"
              />
            )}
          </Field>
        </div>
        <Field
          label="Required capabilities"
          hint="Only agents offering all of these claim it; separate with commas."
        >
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              value={form.capabilities}
              onChange={set('capabilities')}
              placeholder="node, docker"
            />
          )}
        </Field>
        <Field label="Depends on" hint="Task ids that must complete first; separate with commas.">
          {(id, hint) => (
            <input id={id} aria-describedby={hint} value={form.dependsOn} onChange={set('dependsOn')} />
          )}
        </Field>
        <ErrorNote error={action.error} />
        <div className="actions">
          <button type="submit" className="primary" disabled={action.busy || !workspaceId}>
            {action.busy ? 'Creating…' : 'Create task'}
          </button>
          <Link to="/tasks">Cancel</Link>
        </div>
      </form>
    </section>
  );
}
