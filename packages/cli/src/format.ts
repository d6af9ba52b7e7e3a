import type { Task, TaskWithWorkers, WorkerEvent } from '@buildd/protocol';
import { count, duration, type Styles, usd } from './output.ts';

/** A task status, coloured by how it ended. */
export function statusText(status: string, s: Styles): string {
  switch (status) {
    case 'completed':
      return s.green(status);
    case 'failed':
      return s.red(status);
    case 'cancelled':
      return s.yellow(status);
    case 'running':
    case 'assigned':
      return s.cyan(status);
    default:
      return status;
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const num = (v: unknown) => (typeof v === 'number' ? v : 0);

/** Cuts text to a number of lines, saying how many were left out. */
export function firstLines(text: string, lines: number): string {
  const all = text.replace(/\s+$/, '').split('\n');
  if (all.length <= lines) return all.join('\n');
  return `${all.slice(0, lines).join('\n')}\n… (${all.length - lines} more lines)`;
}

const indent = (text: string, prefix: string) =>
  text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');

/** Totals (turns, tokens, cost) of a `usage` event or a worker, in one phrase. */
export function totalsText(t: {
  turns?: unknown;
  inputTokens?: unknown;
  outputTokens?: unknown;
  costUsd?: unknown;
}) {
  return `${num(t.turns)} turns, ${count(num(t.inputTokens))} in / ${count(num(t.outputTokens))} out tokens, ${usd(num(t.costUsd))}`;
}

/**
 * One progress event as `logs` prints it: assistant text in full, tool calls and their results
 * (results cut to a few lines), status changes, git results and errors; estimated usage updates are
 * left out (the final figures are shown).
 */
export function eventText(event: WorkerEvent, s: Styles): string | null {
  const d = event.data;
  const time = s.dim(event.at.slice(11, 19));
  switch (event.type) {
    case 'assistant_text':
      return `${time} ${str(d.text)}`;
    case 'tool_use':
      return `${time} ${s.cyan('→')} ${s.bold(str(d.name))} ${str(d.summary)}`.trimEnd();
    case 'tool_result': {
      const mark = d.isError === true ? s.red('✗') : s.dim('←');
      return `${time} ${mark} ${indent(firstLines(str(d.content), 6), '  ').trimStart()}`;
    }
    case 'status': {
      const extra = [
        d.phase && `phase ${str(d.phase)}`,
        d.model && `model ${str(d.model)}`,
        d.exitCause && `exit ${str(d.exitCause)}`,
      ]
        .filter(Boolean)
        .join(', ');
      return s.dim(`${event.at.slice(11, 19)} · ${str(d.status)}${extra ? ` (${extra})` : ''}`);
    }
    case 'usage':
      return d.final === true ? s.dim(`${event.at.slice(11, 19)} · ${totalsText(d)}`) : null;
    case 'git': {
      const files =
        d.filesChanged === undefined
          ? ''
          : `${num(d.filesChanged)} files changed (+${num(d.linesAdded)} −${num(d.linesRemoved)})`;
      const commit = d.commitSha ? `commit ${str(d.commitSha).slice(0, 10)}` : 'no commit';
      const pushed = d.pushed === true ? ', pushed' : '';
      return s.dim(
        `${event.at.slice(11, 19)} · git: ${[files, commit, `branch ${str(d.branch)}`].filter(Boolean).join(', ')}${pushed}`,
      );
    }
    case 'log':
      return s.dim(`${event.at.slice(11, 19)} · ${str(d.level)}: ${str(d.message)}`);
    case 'error':
      return `${time} ${s.red('error')}: ${str(d.message)}`;
    default:
      return `${time} ${event.type} ${JSON.stringify(d)}`;
  }
}

/** What a worker is doing right now, from one event (null: this event does not change it). */
export function actionOf(event: WorkerEvent): string | null {
  const d = event.data;
  if (event.type === 'tool_use') return `${str(d.name)} ${str(d.summary)}`.trim();
  if (event.type === 'tool_result') return 'Thinking';
  if (event.type === 'status' && d.phase) return str(d.phase) === 'sdk' ? 'Thinking' : str(d.phase);
  return null;
}

/** The sentence `watch` ends with. */
export function outcomeText(task: TaskWithWorkers | Task, s: Styles): string {
  const took =
    task.startedAt && task.finishedAt
      ? ` after ${duration(Date.parse(task.finishedAt) - Date.parse(task.startedAt))}`
      : '';
  const head = `Task ${task.id} ${statusText(task.status, s)}${took}`;
  const lines = [head];
  const r = task.result;
  if (task.status === 'completed' && r) {
    if (r.summary) lines.push(indent(firstLines(r.summary, 20), '  '));
    const git = [
      r.branch && `branch ${r.branch}`,
      r.commitSha && `commit ${r.commitSha.slice(0, 10)}`,
      r.filesChanged !== null &&
        `${r.filesChanged} files changed (+${r.linesAdded ?? 0} −${r.linesRemoved ?? 0})`,
      r.prUrl && `PR ${r.prUrl}`,
    ].filter(Boolean);
    if (git.length) lines.push(`  ${git.join(', ')}`);
  }
  if (task.error)
    lines.push(`  ${s.red('error')}: ${task.error}${task.exitCause ? ` (${task.exitCause})` : ''}`);
  lines.push(`  cost ${usd(task.costUsd)}, attempt ${task.attempts} of ${task.maxAttempts}`);
  return lines.join('\n');
}
