import { createHash } from 'node:crypto';
import { ArtifactName, artifactLimits, artifactNames, Sha256 } from '@buildd/protocol';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { retryTransient } from '../../db/retry.ts';
import { ApiError } from '../../errors.ts';
import {
  artifactsOfTask,
  attachArtifact,
  findVisibleBlob,
  heldLiveWorker,
  latestArtifactNamed,
} from '../../store/artifacts.ts';
import { findVisibleTask } from '../../store/tasks.ts';
import { parseWith } from '../body.ts';
import type { AppEnv } from '../context.ts';

/** The path of uploads, which app.ts exempts from the JSON body limit (they have their own). */
export const artifactUploadPath = /^\/api\/workers\/[^/]+\/artifacts$/;

const contentTypePattern = /^[\w.+-]+\/[\w.+-]+(;\s*[\w.+-]+=[\w".+-]+)*$/;

/** Artifacts: the holder uploads raw bytes; whoever may see the task lists and downloads them. */
export function artifactRoutes() {
  const r = new Hono<AppEnv>();

  r.post(
    '/workers/:id/artifacts',
    async (c, next) => {
      const max = c.var.deps.artifactLimits?.artifactBytes ?? artifactLimits.artifactBytes;
      return bodyLimit({
        maxSize: max,
        onError: () => {
          throw new ApiError('payload_too_large', `An artifact may hold at most ${max} bytes.`, {
            limit: max,
          });
        },
      })(c, next);
    },
    async (c) => {
      const { db } = c.var.deps;
      const taskBytes = c.var.deps.artifactLimits?.taskBytes ?? artifactLimits.taskBytes;
      const name = parseWith(ArtifactName, c.req.header('x-artifact-name') ?? '');
      const contentType = (c.req.header('content-type') ?? 'application/octet-stream').trim();
      if (!contentTypePattern.test(contentType) || contentType.length > 200) {
        throw new ApiError(
          'validation_failed',
          'The content-type header is not a media type like text/plain.',
        );
      }
      const worker = await heldLiveWorker(db, c.var.account, c.req.param('id'));
      const content = Buffer.from(await c.req.arrayBuffer());
      const sha256 = createHash('sha256').update(content).digest('hex');
      const claimed = c.req.header('x-artifact-sha256');
      if (claimed !== undefined && claimed !== sha256) {
        throw new ApiError(
          'validation_failed',
          `The body's SHA-256 is ${sha256}, not ${claimed}: it was damaged.`,
        );
      }
      const result = await retryTransient(() =>
        db.transaction((tx) =>
          attachArtifact(
            tx,
            { taskId: worker.task_id, workerId: worker.id, name, contentType, sha256, content },
            taskBytes,
          ),
        ),
      );
      return c.json(result, 201);
    },
  );

  r.get('/tasks/:id/artifacts', async (c) => {
    const { db } = c.var.deps;
    const task = await findVisibleTask(db, c.var.account, c.req.param('id'));
    return c.json({ items: await artifactsOfTask(db, task.id) });
  });

  r.get('/tasks/:id/diff', async (c) => {
    const { db } = c.var.deps;
    const task = await findVisibleTask(db, c.var.account, c.req.param('id'));
    const found = await latestArtifactNamed(db, task.id, artifactNames.diff);
    if (!found) throw new ApiError('not_found', `Task "${task.id}" has no diff yet.`);
    c.header('x-artifact-sha256', found.artifact.sha256);
    return c.body(new Uint8Array(found.content), 200, { 'content-type': found.artifact.contentType });
  });

  r.get('/artifacts/:sha256', async (c) => {
    const sha256 = parseWith(Sha256, c.req.param('sha256'));
    const blob = await findVisibleBlob(c.var.deps.db, c.var.account, sha256);
    return c.body(new Uint8Array(blob.content), 200, {
      'content-type': blob.contentType,
      'x-artifact-name': blob.name,
      'cache-control': 'private, max-age=31536000, immutable',
    });
  });

  return r;
}
