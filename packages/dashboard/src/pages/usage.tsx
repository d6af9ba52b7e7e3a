import { query } from '../api.ts';
import type { Me, Page, UsageEntry } from '../types.ts';
import { count, Empty, LoadError, money, useLoad } from '../ui.tsx';

const days = 30;

/** The last `days` UTC days, oldest first, as YYYY-MM-DD. */
function lastDays(): string[] {
  const out: string[] = [];
  const now = Date.now();
  for (let i = days - 1; i >= 0; i--) out.push(new Date(now - i * 86_400_000).toISOString().slice(0, 10));
  return out;
}

/** Cost per day for one account as bars, with its daily cap as a line; the table beside it has the figures. */
interface ChartAccount {
  id: string;
  name: string;
  maxCostPerDayUsd: number | null;
}

function UsageChart({ account, usage }: { account: ChartAccount; usage: UsageEntry[] }) {
  const byDay = new Map(usage.map((u) => [u.day.slice(0, 10), u]));
  const dayList = lastDays();
  const cap = account.maxCostPerDayUsd;
  const top = Math.max(cap ?? 0, ...usage.map((u) => u.costUsd), 0.01);
  const w = 600;
  const h = 160;
  const bar = w / dayList.length;
  const y = (v: number) => h - (v / top) * (h - 10);
  const total = usage.reduce((n, u) => n + u.costUsd, 0);
  const titleId = `usage-${account.id}`;
  return (
    <figure className="panel chart">
      <figcaption id={titleId}>
        <strong>{account.name}</strong>: {money(total)} in {days} days
        {cap !== null ? `, cap ${money(cap)} a day` : ', no daily cap'}
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-labelledby={titleId} preserveAspectRatio="none">
        <title>{`Cost per day of ${account.name}`}</title>
        {dayList.map((d, i) => {
          const u = byDay.get(d);
          const v = u?.costUsd ?? 0;
          const over = cap !== null && v >= cap;
          return (
            <rect
              key={d}
              x={i * bar + 1}
              y={y(v)}
              width={Math.max(1, bar - 2)}
              height={h - y(v)}
              className={over ? 'bar over' : 'bar'}
            >
              <title>{`${d}: ${money(v)}, ${count(u?.inputTokens ?? 0)} in / ${count(u?.outputTokens ?? 0)} out tokens`}</title>
            </rect>
          );
        })}
        {cap !== null ? <line x1={0} x2={w} y1={y(cap)} y2={y(cap)} className="cap" /> : null}
      </svg>
      <div className="axis" aria-hidden="true">
        <span>{dayList[0]}</span>
        <span>full height {money(top)}</span>
        <span>{dayList.at(-1)}</span>
      </div>
      <table className="list compact">
        <caption className="sr-only">Daily usage of {account.name}</caption>
        <thead>
          <tr>
            <th scope="col">Day (UTC)</th>
            <th scope="col">Cost</th>
            <th scope="col">Input tokens</th>
            <th scope="col">Output tokens</th>
          </tr>
        </thead>
        <tbody>
          {[...usage]
            .sort((a, b) => b.day.localeCompare(a.day))
            .slice(0, 7)
            .map((u) => (
              <tr key={u.day}>
                <td data-label="Day">{u.day.slice(0, 10)}</td>
                <td data-label="Cost">{money(u.costUsd)}</td>
                <td data-label="Input">{count(u.inputTokens)}</td>
                <td data-label="Output">{count(u.outputTokens)}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </figure>
  );
}

export function UsagePage({ me }: { me: Me }) {
  const usage = useLoad<Page<UsageEntry>>(`/api/usage${query({ days: String(days) })}`);
  const items = usage.data?.items ?? [];
  // Each entry names its account and that account's cap, so members and admins need nothing else.
  const accounts = new Map<string, ChartAccount>();
  for (const u of items) {
    if (!accounts.has(u.accountId)) {
      accounts.set(u.accountId, {
        id: u.accountId,
        name: u.accountName ?? (u.accountId === me.account.id ? me.account.name : u.accountId),
        maxCostPerDayUsd:
          u.maxCostPerDayUsd !== undefined
            ? u.maxCostPerDayUsd
            : u.accountId === me.account.id
              ? me.account.maxCostPerDayUsd
              : null,
      });
    }
  }
  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      <p className="note">
        Cost and tokens per UTC day, against each account’s daily cap (API billing)
        {me.account.level === 'admin' ? ', for every account.' : '.'}
      </p>
      <LoadError error={usage.error} what="usage figures" />
      {usage.data && accounts.size === 0 ? (
        <Empty>No usage in the last {days} days: no run has reported cost yet.</Empty>
      ) : null}
      {[...accounts.values()].map((a) => (
        <UsageChart key={a.id} account={a} usage={items.filter((u) => u.accountId === a.id)} />
      ))}
    </section>
  );
}
