import { z } from 'zod';
import { Id, Timestamp } from './common.ts';

/** Size limits of artifacts (the server may be configured lower or higher). */
export const artifactLimits = {
  /** Largest single artifact the server accepts by default, in bytes. */
  artifactBytes: 10 * 1024 * 1024,
  /** Most bytes of distinct artifacts one task may hold by default. */
  taskBytes: 50 * 1024 * 1024,
  /** Largest diff the agent uploads; a longer one is cut and marked truncated. */
  diffBytes: 2 * 1024 * 1024,
} as const;

/** The names with a meaning of their own: the branch's diff, and the SDK conversation of a run. */
export const artifactNames = { diff: 'diff', conversation: 'conversation' } as const;

/** An artifact's name, sent in the `x-artifact-name` header: a file-like name, no slashes or control characters. */
export const ArtifactName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._-][A-Za-z0-9._ -]*$/, 'use letters, digits, dot, dash, underscore and spaces');

export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex');

/** One artifact attached to a task: the bytes live once on the server, under their SHA-256. */
export const Artifact = z.object({
  sha256: Sha256,
  name: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  taskId: Id,
  workerId: Id,
  createdAt: Timestamp,
});
export type Artifact = z.infer<typeof Artifact>;

/** The answer to an upload: the artifact, and whether these bytes were new to the server. */
export const UploadArtifactAnswer = z.object({ artifact: Artifact, stored: z.boolean() });
export type UploadArtifactAnswer = z.infer<typeof UploadArtifactAnswer>;

export const ArtifactList = z.object({ items: z.array(Artifact) });
export type ArtifactList = z.infer<typeof ArtifactList>;
