/** A unified diff (as `git diff` writes it) split into files and marked lines. */
export interface DiffFile {
  path: string;
  oldPath: string | null;
  added: number;
  removed: number;
  binary: boolean;
  lines: { kind: 'add' | 'del' | 'ctx' | 'hunk'; text: string }[];
}

export function parseDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  let file: DiffFile | undefined;
  for (const line of text.split('\n')) {
    const header = line.match(/^diff --git a\/(.+?) b\/(.+)$/);
    if (header) {
      file = { path: header[2]!, oldPath: header[1]!, added: 0, removed: 0, binary: false, lines: [] };
      files.push(file);
      continue;
    }
    if (!file) {
      if (!line.startsWith('--- ')) continue;
      file = { path: '', oldPath: null, added: 0, removed: 0, binary: false, lines: [] };
      files.push(file);
    }
    if (line.startsWith('+++ ')) {
      const p = line.slice(4).replace(/^b\//, '');
      if (p !== '/dev/null') file.path = p;
    } else if (line.startsWith('--- ')) {
      const p = line.slice(4).replace(/^a\//, '');
      file.oldPath = p === '/dev/null' ? null : p;
      if (!file.path) file.path = p;
    } else if (line.startsWith('@@')) {
      file.lines.push({ kind: 'hunk', text: line });
    } else if (line.startsWith('Binary files')) {
      file.binary = true;
    } else if (file.lines.length > 0) {
      if (line.startsWith('+')) {
        file.added++;
        file.lines.push({ kind: 'add', text: line });
      } else if (line.startsWith('-')) {
        file.removed++;
        file.lines.push({ kind: 'del', text: line });
      } else if (line.startsWith(' ')) {
        file.lines.push({ kind: 'ctx', text: line });
      }
    }
  }
  return files;
}
