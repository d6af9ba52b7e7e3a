import pkg from '../package.json' with { type: 'json' };

/** The CLI's version (`buildd --version`, the MCP server's version). */
export const cliVersion: string = pkg.version;
