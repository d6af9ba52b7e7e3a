/**
 * `buildd mcp` through the MCP SDK's own client over stdio, against the real server and a real agent
 * running the real Claude Agent SDK on the scripted fake model.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningAgent } from '../../agent/src/agent.ts';
import type { FakeAnthropic } from '../../agent/test/support/fake-anthropic.ts';
import { apiClient } from '../../server/test/support/api.ts';
import { testEngines } from '../../server/test/support/engines.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { startFakeModel, startTestAgent } from './support/agent.ts';
import { cliBin, cliEnv, cliHome } from './support/cli.ts';

vi.setConfig({ testTimeout: 240_000 });

type ToolResult = { isError?: boolean; content: { type: string; text: string }[] };

/** Connects an MCP client to `buildd mcp` started with this key. */
async function connect(server: string, apiKey: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cliBin, 'mcp'],
    env: cliEnv({ ...cliHome().env, BUILDD_SERVER: server, BUILDD_API_KEY: apiKey }),
    stderr: 'pipe',
  });
  const client = new Client({ name: 'buildd-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

describe.each(await testEngines())('buildd mcp on %s', (engine) => {
  let t: TestServer;
  let model: FakeAnthropic;
  let agent: RunningAgent;

  beforeAll(async () => {
    t = await startTestServer({ engine, leaseSeconds: 20, renewSeconds: 2 });
    expect((await apiClient(t.url, t.adminKey).post('/api/workspaces', { name: 'mcp-e2e' })).status).toBe(
      201,
    );
    model = await startFakeModel();
    agent = startTestAgent(t.url, t.adminKey, model);
  });
  afterAll(async () => {
    await agent?.stop();
    await model?.close();
    await t?.close();
  });

  it('lists its tools, creates a task, waits for it and reads its result', async () => {
    const mcp = await connect(t.url, t.adminKey);
    try {
      const { tools } = await mcp.listTools();
      expect(tools.map((x) => x.name).sort()).toEqual([
        'answer_task',
        'cancel_task',
        'create_task',
        'list_agents',
        'list_tasks',
        'list_workspaces',
        'retry_task',
        'show_task',
        'wait_for_task',
      ]);
      // The create tool's input schema is the protocol's task body.
      const create = tools.find((x) => x.name === 'create_task')!;
      expect(create.inputSchema.required).toEqual(['prompt']);
      expect(Object.keys(create.inputSchema.properties ?? {})).toEqual(
        expect.arrayContaining([
          'workspaceId',
          'prompt',
          'priority',
          'requiredCapabilities',
          'budgetUsd',
          'maxTurns',
        ]),
      );

      const created = (await mcp.callTool({
        name: 'create_task',
        arguments: { prompt: 'Write hello.txt from Claude Code', priority: 3 },
      })) as ToolResult;
      expect(created.isError).toBeFalsy();
      const task = JSON.parse(created.content[1]!.text);
      expect(task).toMatchObject({
        title: 'Write hello.txt from Claude Code',
        priority: 3,
        status: 'pending',
      });

      const waited = (await mcp.callTool(
        { name: 'wait_for_task', arguments: { taskId: task.id, timeoutSeconds: 200 } },
        undefined,
        { timeout: 230_000 },
      )) as ToolResult;
      expect(waited.isError).toBeFalsy();
      expect(waited.content[0]!.text).toMatch(new RegExp(`^Task ${task.id} completed`));
      expect(waited.content[0]!.text).toContain('Wrote hello.txt.');

      const shown = (await mcp.callTool({ name: 'show_task', arguments: { taskId: task.id } })) as ToolResult;
      expect(JSON.parse(shown.content[1]!.text)).toMatchObject({
        status: 'completed',
        result: { summary: 'Wrote hello.txt.' },
      });
      expect(shown.content[0]!.text).toMatch(/Latest events:\n[\s\S]*→ Write hello\.txt/);

      const listed = (await mcp.callTool({
        name: 'list_tasks',
        arguments: { status: 'completed' },
      })) as ToolResult;
      expect(listed.content[0]!.text).toContain(`${task.id}  completed  Write hello.txt from Claude Code`);
      const agents = (await mcp.callTool({ name: 'list_agents', arguments: {} })) as ToolResult;
      expect(agents.content[0]!.text).toMatch(/^test-agent {2}online/);

      const missing = (await mcp.callTool({
        name: 'show_task',
        arguments: { taskId: 'task_nope' },
      })) as ToolResult;
      expect(missing).toMatchObject({
        isError: true,
        content: [{ type: 'text', text: 'No task with id "task_nope".' }],
      });
      const bad = (await mcp.callTool({
        name: 'create_task',
        arguments: { prompt: 'x', priority: 'high' },
      })) as ToolResult;
      expect(bad.isError).toBe(true);
      expect(bad.content[0]!.text).toMatch(/priority/);
    } finally {
      await mcp.close();
    }
  });

  it('says whether a workspace has a GitHub token, never shows it, and offers no tool that takes one', async () => {
    // Last in the file: create_task above relies on a single workspace.
    const token = 'ghp_McpNeverSeesThis0123456789abcdefgh';
    const created = await apiClient(t.url, t.adminKey).post('/api/workspaces', {
      name: 'mcp-github',
      config: { githubRepo: 'acme/widgets' },
      githubToken: token,
    });
    expect(created.status).toBe(201);
    const mcp = await connect(t.url, t.adminKey);
    try {
      const { tools } = await mcp.listTools();
      for (const x of tools) expect(JSON.stringify(x.inputSchema)).not.toMatch(/token/i);
      const listing = tools.find((x) => x.name === 'list_workspaces')!;
      expect(listing.description).toContain('buildd workspace github');
      const r = (await mcp.callTool({ name: 'list_workspaces', arguments: {} })) as ToolResult;
      expect(r.content[0]!.text).toMatch(/mcp-github .*github acme\/widgets \(token set\)/);
      expect(JSON.stringify(r)).not.toContain(token);
      expect(JSON.parse(r.content[1]!.text).items).toContainEqual(
        expect.objectContaining({ name: 'mcp-github', hasGithubToken: true }),
      );
    } finally {
      await mcp.close();
    }
  });

  it('answers a wrong key with a tool error carrying the sentence', async () => {
    const mcp = await connect(t.url, `buildd_user_${'z'.repeat(43)}`);
    try {
      const r = (await mcp.callTool({ name: 'list_workspaces', arguments: {} })) as ToolResult;
      expect(r.isError).toBe(true);
      expect(r.content[0]!.text).toContain(`The server at ${t.url} does not accept the API key`);
    } finally {
      await mcp.close();
    }
  });
});
