import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react';
import { ApiFailure, api } from './api.ts';
import type { TaskState } from './types.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  loading: boolean;
  reload: () => void;
  setData: (value: T) => void;
}

/** GETs `path` (again whenever it changes or `reload()` is called); `null` loads nothing. */
export function useLoad<T>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `round` is the reload trigger.
  useEffect(() => {
    if (path === null) return;
    const mine = ++latest.current;
    setLoading(true);
    api.get<T>(path).then(
      (value) => {
        if (mine !== latest.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== latest.current) return;
        setError(asFailure(err));
        setLoading(false);
      },
    );
  }, [path, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { data, error, loading, reload, setData };
}

export function asFailure(err: unknown): ApiFailure {
  return err instanceof ApiFailure
    ? err
    : new ApiFailure(0, 'client', String((err as Error)?.message ?? err));
}

/** Runs a write; remembers its error (shown with `<ErrorNote>`) and whether it is under way. */
export function useAction() {
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await fn();
    } catch (err) {
      setError(asFailure(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { run, error, busy, clear: () => setError(undefined) };
}

/** The API's sentence, read out by screen readers as it appears. */
export function ErrorNote({ error }: { error: ApiFailure | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error.message}
    </p>
  );
}

/** What a page says while an endpoint it uses is not on this server yet. */
export function NotYet({ what }: { what: string }) {
  return (
    <p className="note" role="status">
      This buildd server does not offer {what} yet; this part of the page works once it does.
    </p>
  );
}

/** Shows a load's error: "not on this server yet" for a missing endpoint, the API's sentence otherwise. */
export function LoadError({ error, what }: { error: ApiFailure | undefined; what: string }) {
  if (!error) return null;
  if (error.missing) return <NotYet what={what} />;
  return <ErrorNote error={error} />;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

const foldLines = 12;
const foldChars = 800;

/** Long text folded behind its first lines; short text shown as is. Always rendered as text. */
export function Fold({ text, label = 'Show all' }: { text: string; label?: string }) {
  const lines = text.split('\n');
  if (lines.length <= foldLines && text.length <= foldChars) return <pre className="text">{text}</pre>;
  const head = lines.slice(0, 4).join('\n').slice(0, 300);
  return (
    <details className="fold">
      <summary>
        <pre className="text">{head}</pre>
        <span className="fold-more">
          {label} ({lines.length} lines, {text.length.toLocaleString()} characters)
        </span>
      </summary>
      <pre className="text">{text}</pre>
    </details>
  );
}

export function StatusBadge({ status }: { status: TaskState | string }) {
  return <span className={`badge badge-${status}`}>{status.replace('_', ' ')}</span>;
}

/** A labelled form field; the label is tied to the control for screen readers. */
export function Field(props: {
  label: string;
  hint?: string;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const id = useId();
  const hintId = props.hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, hintId)}
      {props.hint ? (
        <small id={hintId} className="hint">
          {props.hint}
        </small>
      ) : null}
    </div>
  );
}

export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <button type="button" onClick={copy} aria-live="polite">
      {copied ? 'Copied' : label}
    </button>
  );
}

export const money = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : `$${n > 0 && n < 0.01 ? n.toFixed(4) : n.toFixed(2)}`;
export const count = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : n.toLocaleString();

/** "3 min ago"-style time, with the exact time in the title. */
export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span>—</span>;
  const date = new Date(at);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const text =
    seconds < -60
      ? `in ${Math.ceil(-seconds / 60)} min`
      : seconds < 60
        ? 'just now'
        : seconds < 3600
          ? `${Math.floor(seconds / 60)} min ago`
          : seconds < 86_400
            ? `${Math.floor(seconds / 3600)} h ago`
            : date.toLocaleDateString();
  return (
    <time dateTime={date.toISOString()} title={date.toLocaleString()}>
      {text}
    </time>
  );
}

/** Splits "a, b c" into ["a", "b", "c"]. */
export const splitList = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
