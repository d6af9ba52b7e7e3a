import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { ApiClient } from '../client.ts';
import { cliVersion } from '../version.ts';
import { tools } from './tools.ts';

/**
 * `buildd mcp`: an MCP server on stdin/stdout for Claude Code and other MCP clients. Every tool calls the
 * buildd API with the same configuration as the CLI; a refused call is a tool error carrying the API's
 * sentence, so the model can read what went wrong. Resolves when the client closes the connection.
 */
export async function runMcpServer(client: () => Promise<ApiClient>): Promise<void> {
  const server = new McpServer({ name: 'buildd', version: cliVersion });
  for (const spec of tools) {
    server.registerTool(
      spec.name,
      {
        title: spec.title,
        description: spec.description,
        inputSchema: spec.input,
        annotations: { readOnlyHint: spec.readOnly, openWorldHint: false },
      },
      async (args: unknown, extra) => {
        const token = extra._meta?.progressToken;
        let step = 0;
        const progress = async (message: string) => {
          if (token === undefined) return;
          step += 1;
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: step, message },
          });
        };
        try {
          const answer = await spec.run(await client(), args as never, progress);
          return {
            content: [
              { type: 'text' as const, text: answer.text },
              { type: 'text' as const, text: JSON.stringify(answer.data, null, 2) },
            ],
          };
        } catch (error) {
          return { isError: true, content: [{ type: 'text' as const, text: (error as Error).message }] };
        }
      },
    );
  }
  const transport = new StdioServerTransport();
  await server.connect(transport);
  await new Promise<void>((resolve) => {
    server.server.onclose = resolve;
    // The stdio transport does not notice its client going away: stdin's end is that signal.
    process.stdin.once('end', resolve);
  });
  await server.close();
}
