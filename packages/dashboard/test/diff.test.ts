import { describe, expect, it } from 'vitest';
import { parseDiff } from '../src/diff.ts';

const diff = `diff --git a/hello.txt b/hello.txt
new file mode 100644
index 0000000..3b18e51
--- /dev/null
+++ b/hello.txt
@@ -0,0 +1,2 @@
+hello from buildd
+second line
diff --git a/src/old.ts b/src/new.ts
similarity index 90%
rename from src/old.ts
rename to src/new.ts
--- a/src/old.ts
+++ b/src/new.ts
@@ -1,3 +1,3 @@
 const a = 1;
-const b = 2;
+const b = 3;
 export { a, b };
diff --git a/logo.png b/logo.png
Binary files a/logo.png and b/logo.png differ
`;

describe('parseDiff', () => {
  it('splits a git diff into files with their added and removed lines', () => {
    const files = parseDiff(diff);
    expect(files.map((f) => [f.path, f.oldPath, f.added, f.removed, f.binary])).toEqual([
      ['hello.txt', null, 2, 0, false],
      ['src/new.ts', 'src/old.ts', 1, 1, false],
      ['logo.png', 'logo.png', 0, 0, true],
    ]);
    expect(files[1]!.lines.map((l) => l.kind)).toEqual(['hunk', 'ctx', 'del', 'add', 'ctx']);
    expect(files[0]!.lines.at(-1)).toEqual({ kind: 'add', text: '+second line' });
  });

  it('reads an empty diff as no files', () => {
    expect(parseDiff('')).toEqual([]);
  });
});
