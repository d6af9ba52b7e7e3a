import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api.ts';
import { useCoalesced, useEventStream, useInterval } from '../live.ts';
import { Link } from '../router.tsx';
import {
  type AgentView,
  finalStates,
  type Me,
  type Page,
  type TaskDetail,
  type TaskView,
  type WorkerEvent,
  type WorkspaceView,
} from '../types.ts';
import { count, ErrorNote, Fold, LoadError, money, StatusBadge, useAction, useLoad, When } from '../ui.tsx';
import { EventLog } from './event-log.tsx';
import { AnswerForm, FollowUpForm } from './task-actions.tsx';

const liveWorker: readonly string[] = ['claimed', 'running', 'waiting_input'];
const isWebUrl = (s: string | null | undefined) => !!s && /^https?:\/\//i.test(s);

/** One task, live: its state and figures, its workers, the event log as it streams, and what can be done. */
export function TaskPage({ id, me }: { id: string; me: Me }) {
  const task = useLoad<TaskDetail>(`/api/tasks/${encodeURIComponent(id)}`);
  const t = task.data;
  const workspace = useLoad<WorkspaceView>(t ? `/api/workspaces/${t.workspaceId}` : null);
  // Agents by account and id, to name the agent a worker ran on (a member sees only their own agents).
  const agents = useLoad<Page<AgentView>>(t && t.workers.length > 0 ? '/api/agents' : null);
  const agentName = (w: { accountId: string; agentId: string }) =>
    agents.data?.items.find((a) => a.accountId === w.accountId && a.id === w.agentId)?.name ?? w.agentId;
  const workerCount = t?.workers.length ?? 0;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new attempt may run on an agent not listed yet.
  useEffect(() => {
    if (workerCount > 1) agents.reload();
  }, [workerCount]);
  const [events, setEvents] = useState<WorkerEvent[]>([]);
  const lastId = useRef(0);
  const finalSeen = useRef(false);
  // The stream URL changes only when it is reopened (after a retry or follow-up revives a finished task);
  // in between, the browser resumes a dropped stream by itself with Last-Event-ID.
  const [stream, setStream] = useState({ from: 0, round: 0, done: false });
  const refresh = useCoalesced(task.reload, 400);
  const final = t ? finalStates.includes(t.status) : false;

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new task id starts over.
  useEffect(() => {
    setEvents([]);
    lastId.current = 0;
    finalSeen.current = false;
    setStream({ from: 0, round: 0, done: false });
  }, [id]);

  const streamUrl =
    t && !stream.done
      ? `/api/tasks/${encodeURIComponent(id)}/stream?after=${stream.from}&r=${stream.round}`
      : null;
  const streamState = useEventStream(
    streamUrl,
    {
      task: (data) => {
        const next = data as TaskView;
        if (task.data) task.setData({ ...task.data, ...next, workers: task.data.workers });
        refresh();
        finalSeen.current = finalStates.includes(next.status);
      },
      progress: (data) => {
        const event = data as WorkerEvent;
        lastId.current = Math.max(lastId.current, event.id);
        setEvents((list) => (list.some((e) => e.id === event.id) ? list : [...list, event]));
        if (event.type === 'usage' || event.type === 'status' || event.type === 'git') refresh();
      },
    },
    () => {
      // The server ends a final task's stream once everything is sent: stop the browser reconnecting.
      if (finalSeen.current) setStream((s) => ({ ...s, done: true }));
    },
  );

  const reopen = useCallback(() => {
    task.reload();
    finalSeen.current = false;
    setStream((s) => ({ from: lastId.current, round: s.round + 1, done: false }));
  }, [task.reload]);

  // A cancelled task's run takes a moment to stop, and its stream has ended by then: ask until the last
  // worker has stopped, then read the events it sent on the way out.
  const stopping = final && !!t?.workers.some((w) => liveWorker.includes(w.status));
  useInterval(task.reload, 1500, stopping);
  const wasStopping = useRef(false);
  useEffect(() => {
    if (wasStopping.current && !stopping) reopen();
    wasStopping.current = stopping;
  }, [stopping, reopen]);

  if (task.error) return <LoadError error={task.error} what="this task" />;
  if (!t) return <p className="loading">Loading…</p>;
  const worker = t.workers.at(-1);
  const mayChange = t.createdBy === me.account.id || me.account.level === 'admin';
  const result = t.result;
  return (
    <article aria-labelledby="task-title">
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> / {workspace.data?.name ?? t.workspaceId}
      </p>
      <div className="title-row">
        <h1 id="task-title">{t.title}</h1>
        <span>
          <StatusBadge status={t.status} />{' '}
          <span className="live" role="status">
            {streamState === 'open' && !final ? 'live' : ''}
          </span>
        </span>
      </div>
      {t.question && t.status === 'waiting_input' ? (
        <AnswerForm task={t} question={t.question} onDone={reopen} />
      ) : null}
      <TaskButtons task={t} mayChange={mayChange} stopping={stopping} onChanged={reopen} />
      {t.error ? <p className="error">{t.error}</p> : null}
      <dl className="facts">
        <dt>Cost</dt>
        <dd>{money(t.costUsd)}</dd>
        <dt>Turns</dt>
        <dd>{count(worker?.turns)}</dd>
        <dt>Tokens</dt>
        <dd>
          {worker
            ? `${count(worker.inputTokens)} in · ${count(worker.outputTokens)} out · ${count(worker.cacheReadTokens)} cached`
            : '—'}
        </dd>
        <dt>Worker</dt>
        <dd>
          {worker ? (
            <>
              <code>{worker.id}</code> <StatusBadge status={worker.status} />
            </>
          ) : (
            'not claimed yet'
          )}
        </dd>
        <dt>Agent</dt>
        <dd>
          {worker ? agentName(worker) : '—'}
          {worker?.sandboxed === false ? <span className="warn"> · not sandboxed</span> : null}
          {worker?.sandboxed === true ? ' · sandboxed' : null}
        </dd>
        <dt>Now</dt>
        <dd>{worker && liveWorker.includes(worker.status) ? (worker.currentAction ?? '—') : '—'}</dd>
        <dt>Attempts</dt>
        <dd>
          {t.attempts} of {t.maxAttempts}
        </dd>
        <dt>Branch</dt>
        <dd>
          <code>{result?.branch ?? worker?.branch ?? '—'}</code>
        </dd>
        <dt>Commit</dt>
        <dd>
          <code>{result?.commitSha ?? worker?.commitSha ?? '—'}</code>
        </dd>
        <dt>Changes</dt>
        <dd>
          {result?.filesChanged != null
            ? `${result.filesChanged} ${result.filesChanged === 1 ? 'file' : 'files'}, +${result.linesAdded ?? 0} −${result.linesRemoved ?? 0}`
            : '—'}
        </dd>
        <dt>Pull request</dt>
        <dd>
          {isWebUrl(result?.prUrl) ? (
            <a href={result!.prUrl!} rel="noreferrer noopener" target="_blank">
              {result!.prUrl}
            </a>
          ) : (
            (result?.prUrl ?? '—')
          )}
          {t.pullRequest && t.pullRequest.state !== 'open' ? (
            <span className={t.pullRequest.state === 'failed' ? 'error-inline' : 'muted'}>
              {' '}
              {t.pullRequest.state === 'pending'
                ? `being opened (attempt ${t.pullRequest.attempts})`
                : 'could not be opened'}
              {t.pullRequest.error ? `: ${t.pullRequest.error}` : ''}
            </span>
          ) : null}
        </dd>
        <dt>Created</dt>
        <dd>
          <When at={t.createdAt} /> by <code>{t.createdBy === me.account.id ? 'you' : t.createdBy}</code>
        </dd>
        <dt>Priority</dt>
        <dd>{t.priority}</dd>
        <dt>Runner</dt>
        <dd>
          {t.runnerPreference}
          {t.requiredCapabilities.length ? ` · needs ${t.requiredCapabilities.join(', ')}` : ''}
        </dd>
        <dt>Limits</dt>
        <dd>
          {[
            t.model ? `model ${t.model}` : 'workspace model',
            t.budgetUsd != null ? `budget ${money(t.budgetUsd)}` : null,
            t.maxTurns != null ? `${t.maxTurns} turns at most` : null,
          ]
            .filter(Boolean)
            .join(' · ')}
        </dd>
        {t.dependsOn.length ? (
          <>
            <dt>Depends on</dt>
            <dd>
              {t.dependsOn.map((d) => (
                <Link key={d} to={`/tasks/${d}`}>
                  {d}{' '}
                </Link>
              ))}
            </dd>
          </>
        ) : null}
      </dl>
      {result?.summary ? (
        <section aria-labelledby="summary-title" className="prose">
          <h2 id="summary-title">Summary</h2>
          <Fold text={result.summary} />
        </section>
      ) : null}
      <section aria-labelledby="prompt-title" className="prose">
        <h2 id="prompt-title">Prompt</h2>
        <Fold text={t.prompt} />
      </section>
      <section aria-labelledby="workers-title">
        <h2 id="workers-title">Attempts</h2>
        {t.workers.length === 0 ? (
          <p className="note">Not claimed yet: an agent that may run this workspace’s tasks picks it up.</p>
        ) : (
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Status</th>
                <th scope="col">Agent</th>
                <th scope="col">Auth</th>
                <th scope="col">Cost</th>
                <th scope="col">Ended</th>
              </tr>
            </thead>
            <tbody>
              {t.workers.map((w) => (
                <tr key={w.id}>
                  <td data-label="Worker">
                    <code>{w.id}</code>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={w.status} />
                    {w.exitCause && w.exitCause !== 'completed' ? ` ${w.exitCause}` : ''}
                  </td>
                  <td data-label="Agent">{agentName(w)}</td>
                  <td data-label="Auth">{w.authType}</td>
                  <td data-label="Cost">{money(w.costUsd)}</td>
                  <td data-label="Ended">
                    <When at={w.finishedAt} />
                    {w.error ? <span className="error-inline"> {w.error}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {mayChange ? <FollowUpForm task={t} onDone={reopen} /> : null}
      <section aria-labelledby="events-title">
        <h2 id="events-title">Event log</h2>
        <EventLog events={events} />
      </section>
    </article>
  );
}

function TaskButtons(props: {
  task: TaskDetail;
  mayChange: boolean;
  /** The task is final but its run has not stopped yet: it cannot be retried until it has. */
  stopping: boolean;
  onChanged: () => void;
}) {
  const action = useAction();
  const t = props.task;
  const post = (what: 'cancel' | 'retry') =>
    action.run(async () => {
      await api.post(`/api/tasks/${t.id}/${what}`);
      props.onChanged();
    });
  const final = finalStates.includes(t.status);
  return (
    <div className="actions">
      {props.mayChange && !final ? (
        <button type="button" className="danger" onClick={() => void post('cancel')} disabled={action.busy}>
          Cancel task
        </button>
      ) : null}
      {props.mayChange && (t.status === 'failed' || t.status === 'cancelled') ? (
        <button
          type="button"
          onClick={() => void post('retry')}
          disabled={action.busy || props.stopping}
          aria-describedby={props.stopping ? 'stopping-note' : undefined}
        >
          Retry
        </button>
      ) : null}
      {props.stopping ? (
        <span id="stopping-note" className="note" role="status">
          The run is stopping…
        </span>
      ) : null}
      {t.workers.length > 0 ? (
        <Link to={`/tasks/${t.id}/review`} className="button">
          Review changes
        </Link>
      ) : null}
      <ErrorNote error={action.error} />
    </div>
  );
}
