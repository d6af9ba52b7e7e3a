export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * An SSE client for tests: collects events as they arrive; `until` waits for a condition on what came so far
 * (bounded by a generous deadline, never a timing assertion); `ended` resolves when the server ends it.
 */
export async function openSse(url: string, key: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, ...headers },
    signal: abort.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let done = false;
  const ended = (async () => {
    if (!res.body || !res.headers.get('content-type')?.includes('text/event-stream')) return;
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of res.body) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut = text.indexOf('\n\n');
        while (cut >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          cut = text.indexOf('\n\n');
          const e: SseEvent = { data: '' };
          let fields = 0;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            const at = line.indexOf(':');
            const field = line.slice(0, at);
            const value = line.slice(at + 1).trimStart();
            if (field === 'id') e.id = value;
            if (field === 'event') e.event = value;
            if (field === 'data') e.data += value;
            if (field === 'event' || field === 'data') fields++;
          }
          if (fields > 0) events.push(e);
        }
      }
    } catch {
      // Aborted by the test.
    } finally {
      done = true;
    }
  })();
  const until = async (what: string, ok: (events: SseEvent[]) => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!ok(events)) {
      if (done && !ok(events)) throw new Error(`stream ended before ${what}; got ${JSON.stringify(events)}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    res,
    events,
    comments,
    until,
    ended,
    get done() {
      return done;
    },
    /** The events of one type, with their data parsed. */
    of: (type: string) => events.filter((e) => e.event === type).map((e) => JSON.parse(e.data)),
    close: () => abort.abort(),
  };
}
