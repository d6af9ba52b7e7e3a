import { type Artifact, liveWorkerStatuses } from '@buildd/protocol';
import { type Caller, isAdmin } from '../caller.ts';
import type { Queryable } from '../db/index.ts';
import { ApiError, notFound } from '../errors.ts';
import { visibleWorkspaceSql } from './access.ts';

interface ArtifactRow {
  task_id: string;
  worker_id: string;
  name: string;
  sha256: string;
  content_type: string;
  size: string | number;
  created_at: Date | string;
}

const toArtifact = (r: ArtifactRow): Artifact => ({
  sha256: r.sha256,
  name: r.name,
  contentType: r.content_type,
  size: Number(r.size),
  taskId: r.task_id,
  workerId: r.worker_id,
  createdAt: new Date(r.created_at).toISOString(),
});

const artifactColumns = 'a.task_id, a.worker_id, a.name, a.sha256, a.content_type, b.size, a.created_at';

export interface NewArtifact {
  taskId: string;
  workerId: string;
  name: string;
  contentType: string;
  sha256: string;
  content: Buffer;
}

/**
 * Attaches bytes to a task (inside the caller's transaction): the blob is stored only if the server has not
 * seen these bytes before, and the task's total of distinct artifact bytes must stay within `taskBytes`. The
 * task row is locked first so that two uploads of one task cannot both pass the total.
 */
export async function attachArtifact(
  tx: Queryable,
  a: NewArtifact,
  taskBytes: number,
): Promise<{ artifact: Artifact; stored: boolean }> {
  await tx.query('SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE', [a.taskId]);
  const [held] = await tx.query<{ total: string; has: boolean }>(
    `SELECT COALESCE(sum(b.size), 0) AS total, bool_or(b.sha256 = $2) AS has
       FROM (SELECT DISTINCT sha256 FROM task_artifacts WHERE task_id = $1) d
       JOIN artifact_blobs b ON b.sha256 = d.sha256`,
    [a.taskId, a.sha256],
  );
  const total = Number(held?.total ?? 0);
  if (!held?.has && total + a.content.length > taskBytes) {
    throw new ApiError(
      'payload_too_large',
      `This task already holds ${total} bytes of artifacts; ${a.content.length} more would pass its limit of ${taskBytes} bytes.`,
      { limit: taskBytes, current: total },
    );
  }
  const inserted = await tx.query(
    `INSERT INTO artifact_blobs (sha256, size, content) VALUES ($1, $2, $3)
     ON CONFLICT (sha256) DO NOTHING RETURNING sha256`,
    [a.sha256, a.content.length, a.content],
  );
  await tx.query(
    `INSERT INTO task_artifacts (task_id, worker_id, name, sha256, content_type) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (task_id, name, sha256) DO NOTHING`,
    [a.taskId, a.workerId, a.name, a.sha256, a.contentType],
  );
  const [row] = await tx.query<ArtifactRow>(
    `SELECT ${artifactColumns} FROM task_artifacts a JOIN artifact_blobs b ON b.sha256 = a.sha256
      WHERE a.task_id = $1 AND a.name = $2 AND a.sha256 = $3`,
    [a.taskId, a.name, a.sha256],
  );
  return { artifact: toArtifact(row!), stored: inserted.length > 0 };
}

/** The artifacts of a task (the caller checked that it may see the task), newest first. */
export async function artifactsOfTask(db: Queryable, taskId: string): Promise<Artifact[]> {
  const rows = await db.query<ArtifactRow>(
    `SELECT ${artifactColumns} FROM task_artifacts a JOIN artifact_blobs b ON b.sha256 = a.sha256
      WHERE a.task_id = $1 ORDER BY a.id DESC`,
    [taskId],
  );
  return rows.map(toArtifact);
}

/** The newest artifact of a task with a given name, with its bytes; undefined when there is none. */
export async function latestArtifactNamed(
  db: Queryable,
  taskId: string,
  name: string,
): Promise<{ artifact: Artifact; content: Buffer } | undefined> {
  const [row] = await db.query<ArtifactRow & { content: Buffer }>(
    `SELECT ${artifactColumns}, b.content FROM task_artifacts a JOIN artifact_blobs b ON b.sha256 = a.sha256
      WHERE a.task_id = $1 AND a.name = $2 ORDER BY a.id DESC LIMIT 1`,
    [taskId, name],
  );
  return row ? { artifact: toArtifact(row), content: row.content } : undefined;
}

/**
 * The bytes under a SHA-256, if the caller may see at least one task they are attached to; 404 otherwise, so
 * that a hash alone tells another account nothing.
 */
export async function findVisibleBlob(
  db: Queryable,
  caller: Caller,
  sha256: string,
): Promise<{ content: Buffer; contentType: string; name: string }> {
  const [row] = await db.query<{ content: Buffer; content_type: string; name: string }>(
    `SELECT b.content, a.content_type, a.name
       FROM task_artifacts a
       JOIN artifact_blobs b ON b.sha256 = a.sha256
       JOIN tasks t ON t.id = a.task_id
       JOIN workspaces w ON w.id = t.workspace_id
      WHERE a.sha256 = $1 AND ${visibleWorkspaceSql(2, 3)}
      ORDER BY a.id DESC LIMIT 1`,
    [sha256, caller.id, isAdmin(caller)],
  );
  if (!row) throw notFound('artifact', sha256);
  return { content: row.content, contentType: row.content_type, name: row.name };
}

/** The live worker the caller holds, with its task; 409 when it is no longer live, 404 when not the caller's. */
export async function heldLiveWorker(
  db: Queryable,
  caller: Caller,
  workerId: string,
): Promise<{ id: string; task_id: string }> {
  const [row] = await db.query<{ id: string; task_id: string; status: string }>(
    'SELECT id, task_id, status FROM workers WHERE id = $1 AND account_id = $2',
    [workerId, caller.id],
  );
  if (!row) throw notFound('worker', workerId);
  if (!(liveWorkerStatuses as readonly string[]).includes(row.status)) {
    throw new ApiError('worker_not_live', `This worker is ${row.status}; stop the run.`);
  }
  return row;
}
