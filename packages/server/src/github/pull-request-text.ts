import type { PullRequestText } from './client.ts';

/** GitHub refuses a body over 65,536 characters; the summary gives way first. */
const maxSummary = 60_000;

/** The pull request's title (the task's) and body (the run's summary and a link back to the task). */
export function pullRequestText(input: {
  taskId: string;
  title: string;
  summary: string | null;
  head: string;
  commitSha: string | null;
  publicUrl: string;
}): PullRequestText {
  const summary = input.summary?.trim() || '_The run left no summary._';
  const clipped =
    summary.length > maxSummary ? `${summary.slice(0, maxSummary)}\n\n…(summary truncated)` : summary;
  const link = `${input.publicUrl}/tasks/${encodeURIComponent(input.taskId)}`;
  const commit = input.commitSha ? `, commit \`${input.commitSha.slice(0, 12)}\`` : '';
  return {
    title: input.title.replace(/\s+/g, ' ').trim().slice(0, 256),
    body: `${clipped}\n\n---\nOpened by buildd for task [${input.taskId}](${link}) (branch \`${input.head}\`${commit}). A follow-up to the task updates this pull request.`,
  };
}
