/**
 * The branch's diff for review: `git diff base...HEAD` (what the branch changed since it left its base),
 * cut at a size cap with a line that says so.
 */
import { artifactLimits } from '@buildd/protocol';
import { type Checkout, git } from './git.ts';

/** The marker that ends a cut diff; a reviewer (or a tool) sees that the rest is missing. */
export const truncatedMarker = (kept: number, total: number) =>
  `\n[buildd: diff truncated: ${kept} of ${total} bytes shown; see the branch for the rest]\n`;

/** The diff of the checkout's branch against its base, at most `maxBytes` (plus the marker). */
export async function branchDiff(
  checkout: Checkout,
  maxBytes: number = artifactLimits.diffBytes,
): Promise<Buffer | null> {
  if (!checkout.repo) return null;
  const text = await git(checkout.dir, [
    'diff',
    '--no-color',
    '--no-ext-diff',
    `${checkout.repo.baseSha}...HEAD`,
    '--',
  ]);
  const full = Buffer.from(text);
  if (full.length <= maxBytes) return full;
  // Cut at a line end so the kept part is still a readable diff.
  const cut = full.lastIndexOf(0x0a, maxBytes);
  const kept = full.subarray(0, cut > 0 ? cut + 1 : maxBytes);
  return Buffer.concat([kept, Buffer.from(truncatedMarker(kept.length, full.length))]);
}
