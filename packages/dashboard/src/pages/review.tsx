import { useEffect, useState } from 'react';
import { ApiFailure, api } from '../api.ts';
import { type DiffFile, parseDiff } from '../diff.ts';
import { Link } from '../router.tsx';
import type { Artifact, Page, TaskDetail } from '../types.ts';
import { asFailure, Empty, LoadError, useLoad } from '../ui.tsx';

/** Files longer than this start folded. */
const foldAt = 200;

/** The task's diff text: `GET /api/tasks/:id/diff`, else the task's `diff` artifact. */
async function loadDiff(id: string, artifacts: Artifact[] | undefined): Promise<string> {
  try {
    const body = await api.get<unknown>(`/api/tasks/${encodeURIComponent(id)}/diff`);
    if (typeof body === 'string') return body;
    const diff = (body as { diff?: unknown }).diff;
    if (typeof diff === 'string') return diff;
    throw new ApiFailure(0, 'client', 'The diff came back in a shape this dashboard does not know.');
  } catch (err) {
    const failure = asFailure(err);
    const artifact = artifacts?.find(
      (a) => a.name === 'diff' || a.name.endsWith('.diff') || a.name.endsWith('.patch'),
    );
    if (!failure.missing || !artifact) throw failure;
    return api.get<string>(`/api/artifacts/${artifact.sha256}`);
  }
}

export function ReviewPage({ id }: { id: string }) {
  const task = useLoad<TaskDetail>(`/api/tasks/${encodeURIComponent(id)}`);
  const artifacts = useLoad<Page<Artifact>>(`/api/tasks/${encodeURIComponent(id)}/artifacts`);
  const [diff, setDiff] = useState<{ files?: DiffFile[]; error?: ApiFailure }>({});
  const artifactsSettled = artifacts.data !== undefined || artifacts.error !== undefined;
  useEffect(() => {
    if (!artifactsSettled) return;
    loadDiff(id, artifacts.data?.items).then(
      (text) => setDiff({ files: parseDiff(text) }),
      (err) => setDiff({ error: asFailure(err) }),
    );
  }, [id, artifactsSettled, artifacts.data]);

  return (
    <article aria-labelledby="review-title">
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> / <Link to={`/tasks/${id}`}>{task.data?.title ?? id}</Link>
      </p>
      <h1 id="review-title">Review</h1>
      <LoadError error={task.error} what="this task" />
      {task.data?.result ? (
        <p>
          Branch <code>{task.data.result.branch ?? '—'}</code>, commit{' '}
          <code>{task.data.result.commitSha?.slice(0, 12) ?? '—'}</code>
        </p>
      ) : null}
      <section aria-labelledby="diff-title">
        <h2 id="diff-title">Changes</h2>
        <LoadError error={diff.error} what="task diffs" />
        {diff.files && diff.files.length === 0 ? <Empty>The run changed no files.</Empty> : null}
        {diff.files?.map((f) => (
          <FileDiff key={`${f.oldPath}->${f.path}`} file={f} />
        ))}
        {!diff.files && !diff.error ? <p className="loading">Loading the diff…</p> : null}
      </section>
      <section aria-labelledby="artifacts-title">
        <h2 id="artifacts-title">Artifacts</h2>
        <LoadError error={artifacts.error} what="artifacts" />
        {artifacts.data && artifacts.data.items.length === 0 ? (
          <Empty>The run left no artifacts.</Empty>
        ) : null}
        {artifacts.data?.items.length ? (
          <ul className="artifacts">
            {artifacts.data.items.map((a) => (
              <li key={a.sha256 + a.name}>
                <a href={`/api/artifacts/${encodeURIComponent(a.sha256)}`} download={a.name}>
                  {a.name}
                </a>{' '}
                <span className="note">
                  {a.contentType ?? ''} {a.size !== undefined ? `· ${a.size.toLocaleString()} bytes` : ''}
                </span>
              </li>
            ))}
          </ul>
        ) : null}
      </section>
    </article>
  );
}

function FileDiff({ file }: { file: DiffFile }) {
  const long = file.lines.length > foldAt;
  const title = file.oldPath && file.oldPath !== file.path ? `${file.oldPath} → ${file.path}` : file.path;
  const body = file.binary ? (
    <p className="note">Binary file.</p>
  ) : (
    <pre className="diff">
      {file.lines.map((l, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: lines of a diff have no identity but their place.
        <span key={i} className={`diff-${l.kind}`}>
          {l.kind === 'add' ? <span className="sr-only">added: </span> : null}
          {l.kind === 'del' ? <span className="sr-only">removed: </span> : null}
          {l.text}
          {'\n'}
        </span>
      ))}
    </pre>
  );
  return (
    <details className="file" open={!long}>
      <summary>
        <code>{title}</code>{' '}
        <span className="diff-stat">
          <span className="plus">+{file.added}</span> <span className="minus">−{file.removed}</span>
        </span>
        {long ? <span className="note"> · long file, folded</span> : null}
      </summary>
      {body}
    </details>
  );
}
