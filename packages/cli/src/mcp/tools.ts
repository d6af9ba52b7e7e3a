import {
  type Agent,
  CreateTaskBody,
  Id,
  ListTasksQuery,
  type Task,
  type TaskWithWorkers,
  type Workspace,
} from '@buildd/protocol';
import { z } from 'zod';
import type { ApiClient } from '../client.ts';
import { latestEvents } from '../commands/task.ts';
import { followTask, isFinal, isWaiting } from '../follow.ts';
import { eventText, outcomeText } from '../format.ts';
import { styles } from '../output.ts';

const plain = styles(false);
const TaskRef = z.object({ taskId: Id.describe('the task id (t-…)') });

/** What a tool answers: text for the model, and the API's object. */
export interface ToolAnswer {
  text: string;
  data: unknown;
}

/** Reports progress while a tool runs (MCP progress notifications). */
export type Progress = (message: string) => Promise<void>;

/** One MCP tool: its name, what it is for, its input schema (from the protocol package) and what it does. */
export interface ToolSpec<S extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: S;
  readOnly: boolean;
  run(client: ApiClient, args: z.infer<S>, progress: Progress): Promise<ToolAnswer>;
}

const tool = <S extends z.ZodObject>(spec: ToolSpec<S>) => spec as unknown as ToolSpec;
const path = (id: string) => `/api/tasks/${encodeURIComponent(id)}`;

/** A task as a few lines for the model: status, result or error, and its latest events. */
async function describeTask(client: ApiClient, t: TaskWithWorkers, events: number): Promise<string> {
  const lines = [outcomeText(t, plain), `  title: ${t.title}`, `  workspace: ${t.workspaceId}`];
  const recent = await latestEvents(client, t.id, events);
  const summary = recent.map((e) => eventText(e, plain)).filter((l): l is string => l !== null);
  if (summary.length > 0) lines.push('Latest events:', ...summary.map((l) => `  ${l.split('\n')[0]}`));
  return lines.join('\n');
}

/** The tools `buildd mcp` offers. */
export const tools: ToolSpec[] = [
  tool({
    name: 'create_task',
    title: 'Create a buildd task',
    description:
      'Queue a coding task for a buildd agent. It runs Claude in an isolated git worktree of the workspace repository and reports a summary, branch and commit. Returns the task; follow it with wait_for_task.',
    // The protocol's body; the title defaults to the prompt's first line and the workspace to the only one.
    input: CreateTaskBody.partial({ title: true, workspaceId: true }),
    readOnly: false,
    async run(client, args) {
      let workspaceId = args.workspaceId;
      if (!workspaceId) {
        const { items } = await client.get<{ items: Workspace[] }>('/api/workspaces', {
          query: { limit: 2 },
        });
        if (items.length !== 1) {
          throw new Error(
            items.length === 0
              ? 'There is no workspace to put the task in.'
              : 'Several workspaces exist: pass workspaceId (list_workspaces shows them).',
          );
        }
        workspaceId = items[0]!.id;
      }
      const title =
        args.title ?? (args.prompt.split('\n').find((l) => l.trim()) ?? args.prompt).trim().slice(0, 80);
      const t = await client.post<Task>('/api/tasks', { ...args, workspaceId, title });
      return { text: `Created task ${t.id} (${t.status}) in ${t.workspaceId}: ${t.title}`, data: t };
    },
  }),
  tool({
    name: 'list_tasks',
    title: 'List buildd tasks',
    description: 'Tasks you can see, newest first, optionally of one workspace or status.',
    input: ListTasksQuery,
    readOnly: true,
    async run(client, args) {
      const page = await client.get<{ items: Task[]; nextCursor: string | null }>('/api/tasks', {
        query: { ...args, limit: args.limit ?? 20 },
      });
      const lines = page.items.map((t) => `${t.id}  ${t.status}  ${t.title}`);
      return { text: lines.length ? lines.join('\n') : 'No tasks.', data: page };
    },
  }),
  tool({
    name: 'show_task',
    title: 'Show a buildd task',
    description:
      'One task: its status, result (summary, branch, commit, changes, cost) or error, and a short summary of its latest events.',
    input: TaskRef,
    readOnly: true,
    async run(client, { taskId }) {
      const t = await client.get<TaskWithWorkers>(path(taskId));
      return { text: await describeTask(client, t, 15), data: t };
    },
  }),
  tool({
    name: 'wait_for_task',
    title: 'Wait for a buildd task',
    description:
      'Wait until the task completes, fails, is cancelled or asks a question (or the timeout passes), then return it with its result.',
    input: TaskRef.extend({
      timeoutSeconds: z.number().int().min(1).max(3600).optional().describe('how long to wait (default 600)'),
    }),
    readOnly: true,
    async run(client, { taskId, timeoutSeconds }, progress) {
      const signal = AbortSignal.timeout((timeoutSeconds ?? 600) * 1000);
      let last = '';
      for await (const item of followTask(client, taskId, { signal })) {
        if (item.kind !== 'task') continue;
        if (item.task.status !== last) await progress(`task ${taskId} is ${item.task.status}`);
        last = item.task.status;
        if (isWaiting(item.task.status)) break;
      }
      const t = await client.get<TaskWithWorkers>(path(taskId));
      const done = isFinal(t.status) || isWaiting(t.status);
      const head = done
        ? ''
        : `Still ${t.status} after ${timeoutSeconds ?? 600} s; call wait_for_task again.\n`;
      return { text: head + (await describeTask(client, t, 10)), data: t };
    },
  }),
  tool({
    name: 'cancel_task',
    title: 'Cancel a buildd task',
    description: 'Cancel a task; a running agent stops its run.',
    input: TaskRef,
    readOnly: false,
    async run(client, { taskId }) {
      const t = await client.post<Task>(`${path(taskId)}/cancel`);
      return { text: `Task ${t.id} is ${t.status}.`, data: t };
    },
  }),
  tool({
    name: 'retry_task',
    title: 'Retry a buildd task',
    description: 'Queue a failed or cancelled task again.',
    input: TaskRef,
    readOnly: false,
    async run(client, { taskId }) {
      const t = await client.post<Task>(`${path(taskId)}/retry`);
      return { text: `Task ${t.id} is ${t.status}.`, data: t };
    },
  }),
  tool({
    name: 'answer_task',
    title: 'Answer a waiting buildd task',
    description:
      'Answer the question a task asked (status waiting_input); its run continues with the answer.',
    input: TaskRef.extend({ text: z.string().min(1).max(20_000).describe('the answer') }),
    readOnly: false,
    async run(client, { taskId, text }) {
      await client.get(path(taskId));
      const t = await client.post<Task>(`${path(taskId)}/answer`, { text }, { feature: 'answering a task' });
      return { text: `Answered task ${taskId}.`, data: t };
    },
  }),
  // No tool takes a workspace's GitHub token, on purpose: whatever a tool receives sits in the model's
  // context (and its transcripts), so the secret would leak there. A person sets it with
  // `buildd workspace github <ws> --token-stdin` or on the dashboard's workspace page; tools only say
  // whether one is set, as the API does.
  tool({
    name: 'list_workspaces',
    title: 'List buildd workspaces',
    description:
      'Workspaces you can put tasks in (usually one git repository each), with their GitHub repository and whether a GitHub token is set. The token itself is never shown and cannot be set here: a person sets it with `buildd workspace github <workspace> --token-stdin` or on the dashboard.',
    input: z.object({}),
    readOnly: true,
    async run(client) {
      const page = await client.get<{ items: Workspace[] }>('/api/workspaces', { query: { limit: 500 } });
      const lines = page.items.map((w) => {
        const github = w.config.githubRepo
          ? `  github ${w.config.githubRepo}${w.hasGithubToken ? ' (token set)' : ''}`
          : w.hasGithubToken
            ? '  (GitHub token set)'
            : '';
        return `${w.id}  ${w.name}  ${w.repoUrl ?? '(no repository)'}${github}`;
      });
      return { text: lines.length ? lines.join('\n') : 'No workspaces.', data: page };
    },
  }),
  tool({
    name: 'list_agents',
    title: 'List buildd agents',
    description: 'Agents that claim and run tasks, and whether they are online.',
    input: z.object({}),
    readOnly: true,
    async run(client) {
      const page = await client.get<{ items: Agent[] }>('/api/agents');
      const lines = page.items.map(
        (a) =>
          `${a.name}  ${a.online ? 'online' : 'offline'}  up to ${a.maxTasks} tasks  ${a.capabilities.join(',')}`,
      );
      return { text: lines.length ? lines.join('\n') : 'No agents have been seen.', data: page };
    },
  }),
];
