/**
 * How an SDK run ended, in buildd's terms: a worker status, an exit cause and a sentence for the
 * operator. Kept apart from run.ts so every branch of the mapping is easy to read and test.
 */
import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { ExitCause } from '@buildd/protocol';
import type { Checkout } from './git.ts';
import { type EndState, truncate } from './types.ts';

/** What the SDK phase produced: its result (if any), what it threw, and why we aborted it (if we did). */
export interface SdkEnd {
  result: SDKResultMessage | null;
  thrown: unknown;
  /** 'timeout', or the caller's abort reason ('cancelled', 'shutdown', 'cost_limit', 'lease_lost', …). */
  abortCause: string | null;
  /** Fallback summary: the model's last text. */
  lastText: string | null;
  timeoutMs: number;
  maxTurns?: number | undefined;
  budgetUsd?: number | undefined;
}

const authPattern =
  /not logged in|invalid (x-)?api[ -]key|authentication|oauth token|\b401\b|unauthori[sz]ed|\/login/i;
const errorLimit = 2_000;

/** Map an abort reason to a final state: only a cancellation is `cancelled`, the rest failed runs. */
export function abortedState(cause: string, timeoutMs: number): EndState {
  if (cause === 'parked') {
    return {
      status: 'completed',
      exitCause: 'parked',
      summary: 'Parked while waiting for an answer; the answer resumes this conversation in a new attempt.',
    };
  }
  if (cause === 'cancelled')
    return { status: 'cancelled', exitCause: 'cancelled', error: 'the task was cancelled' };
  if (cause === 'timeout') {
    const minutes = Math.round((timeoutMs / 60_000) * 10) / 10;
    return {
      status: 'failed',
      exitCause: 'timeout',
      error: `the run exceeded its time limit of ${minutes} min`,
    };
  }
  if (cause === 'lease_lost') {
    return {
      status: 'failed',
      exitCause: 'lost',
      error: 'the server no longer holds this worker (lease lost)',
    };
  }
  const known = ExitCause.safeParse(cause);
  const exitCause = known.success ? known.data : 'aborted';
  const sentences: Partial<Record<ExitCause, string>> = {
    shutdown: 'the agent shut down before the run finished',
    cost_limit: "the account's daily cost limit was reached",
  };
  return { status: 'failed', exitCause, error: sentences[exitCause] ?? `the run was aborted (${cause})` };
}

/** Decide the outcome of the SDK phase. */
export function classifySdkEnd(end: SdkEnd): EndState {
  if (end.abortCause) return abortedState(end.abortCause, end.timeoutMs);
  const { result } = end;
  if (result) {
    if (result.subtype === 'success' && !result.is_error) {
      return { status: 'completed', exitCause: 'completed', summary: result.result || end.lastText || '' };
    }
    if (result.subtype === 'success') return apiErrorState(result.result, result.api_error_status ?? null);
    if (result.subtype === 'error_max_turns') {
      const limit = end.maxTurns ? ` of ${end.maxTurns} turns` : ' of turns';
      return { status: 'failed', exitCause: 'max_turns', error: `the run stopped at its limit${limit}` };
    }
    if (result.subtype === 'error_max_budget_usd') {
      const limit = end.budgetUsd ? ` of $${end.budgetUsd}` : '';
      return { status: 'failed', exitCause: 'budget', error: `the run stopped at its budget${limit}` };
    }
    const detail = result.errors?.join('; ') || result.subtype;
    return {
      status: 'failed',
      exitCause: 'sdk',
      error: truncate(`Claude Code failed: ${detail}`, errorLimit),
    };
  }
  const message = end.thrown instanceof Error ? end.thrown.message : String(end.thrown ?? 'no result');
  if (authPattern.test(message)) return apiErrorState(message, null);
  return {
    status: 'failed',
    exitCause: 'sdk',
    error: truncate(`Claude Code ended without a result: ${message}`, errorLimit),
  };
}

/** An error answer of the Messages API: credentials problems are `auth`, the rest `api_error`. */
function apiErrorState(text: string, httpStatus: number | null): EndState {
  // Trust the HTTP status when there is one; "Not logged in" comes without a request at all.
  const auth = httpStatus !== null ? httpStatus === 401 || httpStatus === 403 : authPattern.test(text);
  const hint = auth ? ' (check the Claude credential: ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN)' : '';
  return {
    status: 'failed',
    exitCause: auth ? 'auth' : 'api_error',
    error: truncate(`${text || 'the Claude API answered with an error'}${hint}`, errorLimit),
  };
}

/** A failed/git state whose error says what git was doing and where a kept commit lives. */
export function gitFailure(doing: string, error: unknown, kept: Checkout | null = null): EndState {
  const message = error instanceof Error ? error.message : String(error);
  const where = kept?.repo ? ` The commit is kept on branch ${kept.branch} in ${kept.repo.cacheDir}.` : '';
  return {
    status: 'failed',
    exitCause: 'git',
    error: truncate(`git failed while ${doing}: ${message}.${where}`, 2_000),
  };
}
