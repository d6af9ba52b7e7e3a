/** How to get an agent running: the first thing a fresh server needs. */
export function StartAgentHelp() {
  const origin = location.origin;
  return (
    <section className="panel" aria-labelledby="start-agent">
      <h2 id="start-agent">No agent is online</h2>
      <p>
        Tasks wait as pending until an agent claims them. Start one on any machine with git and Node.js 20:
      </p>
      <pre className="cmd">
        {`export BUILDD_API_KEY=<an API key>          # Accounts → new key, or ~/.buildd/config.json
export CLAUDE_CODE_OAUTH_TOKEN=<token>      # or ANTHROPIC_API_KEY=sk-ant-…
npx buildd-agent --server=${origin} --max-tasks=1`}
      </pre>
      <p>
        Or set <code>CLAUDE_CODE_OAUTH_TOKEN</code> or <code>ANTHROPIC_API_KEY</code> and restart{' '}
        <code>npm start</code>: the server then runs one local agent itself.
      </p>
    </section>
  );
}
