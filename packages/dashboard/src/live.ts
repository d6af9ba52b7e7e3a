import { useEffect, useRef, useState } from 'react';

export type StreamState = 'connecting' | 'open' | 'unavailable';

/**
 * Listens to an SSE endpoint of the API. The browser reconnects by itself with `Last-Event-ID`, so
 * nothing is missed; a refused stream (404, 401) closes for good and reports `unavailable`, and the page
 * falls back to polling.
 */
export function useEventStream(
  url: string | null,
  handlers: Record<string, (data: unknown, id: string) => void>,
  /** The server ended the stream or the connection dropped; the browser is about to reconnect. */
  onDrop?: () => void,
): StreamState {
  const [state, setState] = useState<StreamState>('connecting');
  const current = useRef(handlers);
  current.current = handlers;
  const dropped = useRef(onDrop);
  dropped.current = onDrop;
  const names = Object.keys(handlers).sort().join(',');
  useEffect(() => {
    if (!url) return undefined;
    setState('connecting');
    const source = new EventSource(url, { withCredentials: true });
    source.onopen = () => setState('open');
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) setState('unavailable');
      else dropped.current?.();
    };
    for (const name of names.split(',').filter(Boolean)) {
      source.addEventListener(name, (e) => {
        const message = e as MessageEvent<string>;
        let data: unknown = message.data;
        try {
          data = JSON.parse(message.data);
        } catch {
          // Not JSON: hand over the text.
        }
        current.current[name]?.(data, message.lastEventId);
      });
    }
    return () => source.close();
  }, [url, names]);
  return state;
}

/** Calls `fn` every `ms` while `active` (a gentle refresh where no stream is available). */
export function useInterval(fn: () => void, ms: number, active: boolean): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') saved.current();
    }, ms);
    return () => clearInterval(timer);
  }, [ms, active]);
}

/** Wraps `fn` so a burst of calls runs it once, `ms` after the first. */
export function useCoalesced(fn: () => void, ms: number): () => void {
  const saved = useRef(fn);
  saved.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return () => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      saved.current();
    }, ms);
  };
}
