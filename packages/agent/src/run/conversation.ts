/**
 * The conversation that travels with a task: Claude Code's session transcript (JSONL, one entry a line,
 * under `<config dir>/projects/<project folder of the cwd>/<session id>.jsonl`). A run uploads it as the
 * task's `conversation` artifact; a later attempt, on any agent, puts it back under its own worktree's
 * project folder and resumes it, so the model sees the earlier conversation and only the new input.
 */

import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ClaimedWorker } from '@buildd/protocol';
import type { RunContext } from './types.ts';

/** The artifact name of a run's transcript. */
export const conversationArtifact = 'conversation';
export const conversationContentType = 'application/x-ndjson; charset=utf-8';

/** Where Claude Code keeps its state for a child started with `env` (CLAUDE_CONFIG_DIR, else ~/.claude). */
export function claudeConfigDir(env: Record<string, string>): string {
  return env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), '.claude');
}

/**
 * Claude Code's folder name for a project path: every character but ASCII letters and digits becomes `-`;
 * a long path is cut at 200 characters and gets a hash of the whole path (Java's String.hashCode in base 36),
 * as the SDK's own session functions compute it. (Claude Code also finds a session in another project
 * folder when resuming; the exact folder keeps the transcript where its own listing expects it.)
 */
export function projectFolder(path: string): string {
  const name = path.replace(/[^a-zA-Z0-9]/g, '-');
  if (name.length <= 200) return name;
  let hash = 0;
  for (let i = 0; i < path.length; i++) hash = ((hash << 5) - hash + path.charCodeAt(i)) | 0;
  return `${name.slice(0, 200)}-${Math.abs(hash).toString(36)}`;
}

/**
 * Puts an earlier attempt's transcript where Claude Code looks for it when this run (in `cwd`) resumes it.
 * The earlier worktree's path is replaced with this one throughout, so the earlier tool calls' absolute
 * paths point into this checkout of the same branch. Answers the session id to resume, or null when the
 * bytes are no transcript.
 */
export async function placeConversation(
  configDir: string,
  cwd: string,
  bytes: Uint8Array,
): Promise<string | null> {
  let text = Buffer.from(bytes).toString('utf8');
  const entries = text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      try {
        return JSON.parse(line) as { sessionId?: unknown; cwd?: unknown };
      } catch {
        return {};
      }
    });
  const sessionId = entries.find((e) => typeof e.sessionId === 'string')?.sessionId as string | undefined;
  if (!sessionId || !/^[0-9a-f-]{36}$/i.test(sessionId)) return null;
  const earlierCwd = entries.find((e) => typeof e.cwd === 'string')?.cwd as string | undefined;
  if (earlierCwd && earlierCwd !== cwd) {
    // As JSON string contents, so a path with characters JSON escapes is still found and stays valid JSON.
    const inJson = (s: string) => JSON.stringify(s).slice(1, -1);
    text = text.replaceAll(inJson(earlierCwd), inJson(cwd));
  }
  const dir = join(configDir, 'projects', projectFolder(cwd));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, `${sessionId}.jsonl`), text, { mode: 0o600 });
  return sessionId;
}

/** This run's transcript, or null when Claude Code wrote none (it never started, or crashed first). */
export async function readConversation(
  configDir: string,
  cwd: string,
  sessionId: string,
): Promise<Buffer | null> {
  const exact = join(configDir, 'projects', projectFolder(cwd), `${sessionId}.jsonl`);
  const found = await readFile(exact).catch(() => null);
  if (found) return found;
  // Not where expected (a Claude Code that names folders differently): look in every project folder.
  const projects = join(configDir, 'projects');
  for (const folder of await readdir(projects).catch(() => [] as string[])) {
    const bytes = await readFile(join(projects, folder, `${sessionId}.jsonl`)).catch(() => null);
    if (bytes) return bytes;
  }
  return null;
}

/**
 * Removes this run's transcripts (its own and the one it resumed) from the config dir: the server keeps the
 * conversation, and a person's own `~/.claude` should not fill up with buildd runs.
 */
export async function removeConversations(
  configDir: string,
  cwd: string,
  sessionIds: string[],
): Promise<void> {
  const dir = join(configDir, 'projects', projectFolder(cwd));
  for (const id of sessionIds) {
    await rm(join(dir, `${id}.jsonl`), { force: true });
    await rm(join(dir, id), { recursive: true, force: true });
  }
  await rmdir(dir).catch(() => undefined); // only when empty
}

/**
 * The first message of an attempt that resumes an earlier conversation: only what is new (the answer, the
 * follow-up instruction), since the conversation already holds the task and everything said so far.
 */
export function resumePrompt(worker: ClaimedWorker): string {
  const input = worker.resume?.input;
  if (!input) {
    return 'The run that had this conversation stopped before it finished. Its commits are on this branch in your working directory (a new checkout). Continue the task.';
  }
  if (input.kind === 'answer') {
    return `A person answered your question:\n\n${input.text}\n\nYour earlier commits are on this branch in your working directory (a new checkout). Continue the task with this answer.`;
  }
  return `The task is done as far as it went, and its commits are on this branch in your working directory (a new checkout). A person now asks for more:\n\n${input.text}`;
}

/**
 * Places the conversation this attempt continues (an earlier attempt's transcript, by any agent) for this
 * checkout; answers its session id, or null to start afresh (none, or it could not be had: the prompt then
 * carries the task and the new input, as before conversations travelled).
 */
export async function resumeConversation(
  worker: ClaimedWorker,
  cwd: string,
  configDir: string,
  ctx: RunContext,
): Promise<string | null> {
  const sha256 = worker.resume?.conversationSha256;
  if (!sha256 || !ctx.server) return null;
  try {
    const sessionId = await placeConversation(configDir, cwd, await ctx.server.downloadArtifact(sha256));
    if (sessionId)
      ctx.reporter.event('log', { level: 'info', message: 'resuming the earlier conversation', sha256 });
    return sessionId;
  } catch (error) {
    ctx.log('warn', 'could not resume the earlier conversation; starting afresh', { error: String(error) });
    ctx.reporter.event('log', { level: 'warn', message: 'could not resume the earlier conversation' });
    return null;
  }
}

/** Uploads this run's transcript as the task's `conversation` and removes the local copies. */
export async function keepConversation(
  cwd: string,
  configDir: string,
  sessionIds: string[],
  ctx: RunContext,
) {
  const [own] = sessionIds;
  const bytes = own ? await readConversation(configDir, cwd, own) : null;
  if (bytes && ctx.server)
    await ctx.server.uploadArtifact(conversationArtifact, conversationContentType, bytes);
  await removeConversations(configDir, cwd, sessionIds).catch((error: unknown) =>
    ctx.log('debug', 'could not remove a transcript', { error: String(error) }),
  );
}
