import { readFileSync } from 'node:fs';

/**
 * CPU milliseconds a process has used in user space and in the kernel, from /proc/<pid>/stat (clock ticks of
 * 1/100 s), with the children it reaped when asked; zeros for a process that is gone.
 */
export function cpuTimes(pid: number | undefined, withReapedChildren = false): { user: number; sys: number } {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const user = Number(fields[11]) + (withReapedChildren ? Number(fields[13]) : 0);
    const sys = Number(fields[12]) + (withReapedChildren ? Number(fields[14]) : 0);
    return { user: user * 10, sys: sys * 10 };
  } catch {
    return { user: 0, sys: 0 };
  }
}

/** CPU milliseconds (user + system) a process has used. */
export function cpuMs(pid: number | undefined, withReapedChildren = false): number {
  const t = cpuTimes(pid, withReapedChildren);
  return t.user + t.sys;
}
