import * as p from '@buildd/protocol';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.ts';

interface Op {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  summary: string;
  body?: z.ZodType;
  answer?: z.ZodType;
  status?: number;
}

const list = <T extends z.ZodType>(item: T) => p.page(item);

/** Every route, with the protocol schema of its body and answer: the OpenAPI document is built from this. */
const operations: Op[] = [
  {
    method: 'get',
    path: '/api/me',
    summary: 'The calling account',
    answer: z.object({ account: p.Account }),
  },
  {
    method: 'post',
    path: '/api/accounts',
    summary: 'Create an account (admin)',
    body: p.CreateAccountBody,
    answer: p.CreatedAccount,
    status: 201,
  },
  { method: 'get', path: '/api/accounts', summary: 'List accounts (admin)', answer: list(p.Account) },
  { method: 'get', path: '/api/accounts/{id}', summary: 'One account', answer: p.Account },
  {
    method: 'patch',
    path: '/api/accounts/{id}',
    summary: 'Change an account (admin)',
    body: p.UpdateAccountBody,
    answer: p.Account,
  },
  {
    method: 'post',
    path: '/api/accounts/{id}/keys',
    summary: 'New API key (admin)',
    body: p.CreateKeyBody,
    answer: z.object({ key: p.ApiKey, apiKey: z.string() }),
    status: 201,
  },
  {
    method: 'get',
    path: '/api/accounts/{id}/keys',
    summary: 'API keys of an account (admin)',
    answer: list(p.ApiKey),
  },
  { method: 'delete', path: '/api/keys/{id}', summary: 'Revoke an API key (admin)', answer: p.ApiKey },
  {
    method: 'post',
    path: '/api/workspaces',
    summary: 'Create a workspace (admin)',
    body: p.CreateWorkspaceBody,
    answer: p.Workspace,
    status: 201,
  },
  { method: 'get', path: '/api/workspaces', summary: 'Workspaces you can see', answer: list(p.Workspace) },
  { method: 'get', path: '/api/workspaces/{id}', summary: 'One workspace (id or name)', answer: p.Workspace },
  {
    method: 'patch',
    path: '/api/workspaces/{id}',
    summary: 'Change a workspace (admin)',
    body: p.UpdateWorkspaceBody,
    answer: p.Workspace,
  },
  {
    method: 'put',
    path: '/api/workspaces/{id}/members/{accountId}',
    summary: 'Grant claim/create (admin)',
    body: p.SetMemberBody,
    answer: p.WorkspaceMember,
  },
  {
    method: 'get',
    path: '/api/workspaces/{id}/members',
    summary: 'Grants of a workspace (admin)',
    answer: list(p.WorkspaceMember),
  },
  {
    method: 'post',
    path: '/api/tasks',
    summary: 'Create a task',
    body: p.CreateTaskBody,
    answer: p.Task,
    status: 201,
  },
  {
    method: 'get',
    path: '/api/tasks',
    summary: 'List tasks (?workspaceId=&status=&cursor=)',
    answer: list(p.Task),
  },
  { method: 'get', path: '/api/tasks/{id}', summary: 'A task with its workers', answer: p.TaskWithWorkers },
  {
    method: 'patch',
    path: '/api/tasks/{id}',
    summary: 'Change a pending task',
    body: p.UpdateTaskBody,
    answer: p.Task,
  },
  { method: 'post', path: '/api/tasks/{id}/cancel', summary: 'Cancel a task', answer: p.Task },
  {
    method: 'post',
    path: '/api/tasks/{id}/retry',
    summary: 'Retry a failed or cancelled task',
    answer: p.Task,
  },
  {
    method: 'get',
    path: '/api/tasks/{id}/events',
    summary: 'Progress events (?after=)',
    answer: p.EventsPage,
  },
  {
    method: 'get',
    path: '/api/tasks/{id}/stream',
    summary: 'Progress as Server-Sent Events (Last-Event-ID)',
  },
  {
    method: 'post',
    path: '/api/workers/claim',
    summary: 'Claim tasks (agents)',
    body: p.ClaimBody,
    answer: p.ClaimResponse,
  },
  {
    method: 'patch',
    path: '/api/workers/{id}',
    summary: 'Progress and completion (agents)',
    body: p.PatchWorkerBody,
    answer: p.PatchWorkerResponse,
  },
  {
    method: 'post',
    path: '/api/workers/{id}/events',
    summary: 'Append progress events (agents)',
    body: p.PostEventsBody,
    answer: p.PostEventsResponse,
  },
  { method: 'get', path: '/api/workers/{id}', summary: 'One worker (holder or admin)', answer: p.Worker },
  { method: 'get', path: '/api/agents', summary: 'Running agents', answer: list(p.Agent) },
  {
    method: 'get',
    path: '/api/stream',
    summary:
      'Everything you may see as Server-Sent Events: task and agent changes (?workspaceId=, Last-Event-ID)',
  },
  {
    method: 'post',
    path: '/api/workspaces/{id}/webhooks',
    summary: 'Add a webhook (admin; the secret is never returned)',
    body: p.CreateWebhookBody,
    answer: p.Webhook,
    status: 201,
  },
  {
    method: 'get',
    path: '/api/workspaces/{id}/webhooks',
    summary: "A workspace's webhooks (admin)",
    answer: list(p.Webhook),
  },
  { method: 'delete', path: '/api/webhooks/{id}', summary: 'Delete a webhook (admin)', answer: p.Webhook },
  {
    method: 'get',
    path: '/api/webhooks/{id}/deliveries',
    summary: 'Deliveries and every attempt (admin)',
    answer: list(p.WebhookDelivery),
  },
  {
    method: 'post',
    path: '/api/webhooks/{id}/test',
    summary: 'Send a test (ping) event (admin)',
    status: 202,
  },
  {
    method: 'post',
    path: '/api/workers/{id}/question',
    summary: 'The run asks a person (holder); worker and task become waiting_input',
    body: p.AskQuestionBody,
    answer: p.Question,
    status: 201,
  },
  {
    method: 'get',
    path: '/api/workers/{id}/question',
    summary: 'The worker’s newest question with its answer (holder)',
    answer: p.QuestionWithAnswer,
  },
  {
    method: 'post',
    path: '/api/tasks/{id}/answer',
    summary: 'Answer the task’s question (creator or admin)',
    body: p.TextBody,
    answer: p.Task,
  },
  {
    method: 'post',
    path: '/api/tasks/{id}/messages',
    summary:
      'Message a task (creator or admin): into a running session, or a follow-up of a completed or failed task',
    body: p.TextBody,
    answer: p.Task,
    status: 202,
  },
  {
    method: 'get',
    path: '/api/workers/{id}/messages',
    summary: 'Messages the worker’s session has not taken yet (holder)',
    answer: p.PendingMessages,
  },
  {
    method: 'post',
    path: '/api/workers/{id}/messages/delivered',
    summary: 'The holder put these messages into its session',
    body: p.DeliveredMessagesBody,
    answer: z.object({ marked: z.number().int() }),
  },
];

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

/** Builds the OpenAPI 3.1 document from the protocol schemas. */
export function buildOpenApi() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const errors = { description: 'Error', content: { 'application/json': { schema: schema(p.ErrorBody) } } };
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      security: [{ bearer: [] }],
      ...(op.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: schema(op.body) } } } }
        : {}),
      responses: {
        [String(op.status ?? 200)]: {
          description: 'OK',
          ...(op.answer ? { content: { 'application/json': { schema: schema(op.answer) } } } : {}),
        },
        default: errors,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'buildd API', version: p.protocolVersion },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A buildd API key' } },
    },
    paths,
  };
}

/** `GET /api/openapi.json`, public so that tools can read it before they have a key. */
export function openapiRoute() {
  const r = new Hono<AppEnv>();
  let doc: ReturnType<typeof buildOpenApi> | undefined;
  r.get('/openapi.json', (c) => {
    doc ??= buildOpenApi();
    return c.json(doc);
  });
  return r;
}
