import type { WorkerEvent } from '../types.ts';
import { Fold, money } from '../ui.tsx';

const str = (v: unknown) =>
  typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

/** One progress event as a person reads it; whatever the agent sent is shown as text, never as markup. */
function EventBody({ event }: { event: WorkerEvent }) {
  const d = event.data;
  switch (event.type) {
    case 'assistant_text':
      return <Fold text={str(d.text)} />;
    case 'tool_use':
      return (
        <>
          <p className="tool">
            <strong>{str(d.name)}</strong> {str(d.summary)}
          </p>
          {d.input !== undefined ? (
            <Fold text={JSON.stringify(d.input, null, 2)} label="Show the input" />
          ) : null}
        </>
      );
    case 'tool_result':
      return (
        <div className={d.isError === true ? 'tool-error' : undefined}>
          {d.isError === true ? <p>The tool reported an error:</p> : null}
          <Fold text={str(d.content)} label="Show the whole result" />
        </div>
      );
    case 'usage':
      return (
        <p>
          {num(d.turns) !== undefined ? `${d.turns} turns · ` : ''}
          {money(num(d.costUsd))} · {num(d.inputTokens)?.toLocaleString() ?? '—'} in /{' '}
          {num(d.outputTokens)?.toLocaleString() ?? '—'} out
          {d.final === true ? ' (final)' : ''}
        </p>
      );
    case 'status':
      return (
        <p>
          {str(d.status)}
          {d.phase ? ` (${str(d.phase)})` : ''}
          {d.exitCause ? ` — ${str(d.exitCause)}` : ''}
          {d.branch ? ` on ${str(d.branch)}` : ''}
        </p>
      );
    case 'git':
      return (
        <p>
          {d.commitSha ? `commit ${str(d.commitSha).slice(0, 12)}` : 'no commit'}
          {d.branch ? ` on ${str(d.branch)}` : ''}
          {num(d.filesChanged) !== undefined
            ? ` · ${d.filesChanged} files, +${d.linesAdded ?? 0} −${d.linesRemoved ?? 0}`
            : ''}
          {d.pushed === true ? ' · pushed' : ''}
        </p>
      );
    case 'log':
    case 'error':
      return <Fold text={str(d.message) || JSON.stringify(d)} />;
    default:
      return <Fold text={JSON.stringify(d, null, 2)} />;
  }
}

const typeLabel: Record<string, string> = {
  assistant_text: 'Claude',
  tool_use: 'Tool',
  tool_result: 'Result',
  usage: 'Usage',
  status: 'Status',
  git: 'Git',
  log: 'Log',
  error: 'Error',
};

/** The run's event log, oldest first; new entries are announced politely to screen readers. */
export function EventLog({ events }: { events: WorkerEvent[] }) {
  if (events.length === 0) {
    return <p className="note">No events yet: they stream in here as soon as an agent starts the run.</p>;
  }
  return (
    <ol className="events" role="log" aria-label="Event log">
      {events.map((e) => (
        <li key={e.id} className={`event event-${e.type}`}>
          <div className="event-head">
            <span className="event-type">{typeLabel[e.type] ?? e.type}</span>
            <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString()}</time>
          </div>
          <EventBody event={e} />
        </li>
      ))}
    </ol>
  );
}
