import pg from 'pg';

export interface StatementFigures {
  /** Calls per lifecycle. */
  calls: number;
  /** Execution milliseconds per lifecycle. */
  ms: number;
  /** Rows per lifecycle. */
  rows: number;
  /** Sent by the server (true), or run inside a function or trigger. */
  toplevel: boolean;
  query: string;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates pg_stat_statements in the database if needed and clears its counts. */
export async function resetStatements(url: string): Promise<void> {
  await withClient(url, async (c) => {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await c.query('SELECT pg_stat_statements_reset()');
  });
}

/** Every statement since the reset, per lifecycle, most time first. */
export async function readStatements(url: string, lifecycles: number): Promise<StatementFigures[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{
      calls: string;
      ms: number;
      rows: string;
      toplevel: boolean;
      query: string;
    }>(
      `SELECT calls, total_exec_time AS ms, rows, toplevel, query FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query NOT LIKE '%pg_stat_statements%'
        ORDER BY total_exec_time DESC`,
    );
    return rows.map((r) => ({
      calls: Number((Number(r.calls) / lifecycles).toFixed(2)),
      ms: Number((r.ms / lifecycles).toFixed(3)),
      rows: Number((Number(r.rows) / lifecycles).toFixed(2)),
      toplevel: r.toplevel,
      query: r.query.replace(/\s+/g, ' ').slice(0, 140),
    }));
  });
}

/** The statements as lines: calls, ms and rows per lifecycle, then the query's start. */
export function statementLines(figures: StatementFigures[]): string[] {
  const top = figures.filter((f) => f.calls >= 0.05);
  const sent = top.filter((f) => f.toplevel).reduce((sum, f) => sum + f.calls, 0);
  return [
    `  statements per lifecycle sent by the server: ${sent.toFixed(2)}`,
    '  calls/lc    ms/lc   rows/lc  level  query',
    ...top.map(
      (f) =>
        `  ${f.calls.toFixed(2).padStart(8)} ${f.ms.toFixed(3).padStart(8)} ${f.rows.toFixed(2).padStart(8)}  ${f.toplevel ? 'top  ' : 'inner'}  ${f.query}`,
    ),
  ];
}
