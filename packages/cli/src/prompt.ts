import { createInterface } from 'node:readline';

/** Asks one question on the terminal (stderr), optionally without echoing the answer (API keys). */
export function ask(question: string, opts: { hidden?: boolean } = {}): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (opts.hidden) {
    // readline echoes through this method; keep the question, drop the typed characters.
    const writable = rl as unknown as { _writeToOutput(text: string): void };
    writable._writeToOutput = (text: string) => {
      if (text.includes(question)) process.stderr.write(text);
      else if (text.includes('\n') || text.includes('\r')) process.stderr.write('\n');
    };
  }
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer.trim());
    });
  });
}

/**
 * A secret from stdin: a pipe is read to its end, a terminal is asked without echo (`label` is the
 * question). Only the trimmed text is kept; callers never print it. Secrets do not go on the command line,
 * where `ps` shows them to every user of the machine.
 */
export async function readSecretFromStdin(label: string): Promise<string> {
  if (process.stdin.isTTY) return ask(`${label}: `, { hidden: true });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}
