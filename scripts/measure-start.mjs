#!/usr/bin/env node
// Prints start-up time and idle RSS of buildd-server and buildd-agent, run through tsx (bin/*.mjs, the
// development launchers) and built (dist/*.mjs, what an installed package runs). Figures, not a test.
//   npm run build && node scripts/measure-start.mjs postgres://postgres@127.0.0.1:5432/<an empty database>
// The server uses that database (the embedded one would dominate its RSS); the agent connects to it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const databaseUrl = process.argv[2];
if (!databaseUrl)
  throw new Error('usage: node scripts/measure-start.mjs <postgres url of an empty database>');
const root = join(import.meta.dirname, '..');
const adminKey = 'buildd_user_MeasureStartAdminKey0123456789abcdefghij';
const rounds = Number(process.env.ROUNDS ?? 3);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const rssMb = (pid) =>
  Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Starts `file` with node; resolves once its output matches `ready`: { child, ms, match }. */
function start(file, args, env, ready) {
  const began = performance.now();
  const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      out += chunk.toString();
      const match = ready.exec(out);
      if (match) resolve({ child, ms: performance.now() - began, match });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}: ${out}`)));
  });
}

async function stop(child) {
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

const home = mkdtempSync(join(tmpdir(), 'buildd-measure-'));
const serverEnv = {
  HOME: home,
  DATABASE_URL: databaseUrl,
  BUILDD_ADMIN_KEY: adminKey,
  BUILDD_LOCAL_AGENT: '0',
};
for (const [way, dir] of [
  ['tsx', 'bin'],
  ['built', 'dist'],
]) {
  const figures = { serverStart: [], serverRss: [], agentStart: [], agentRss: [] };
  for (let i = 0; i < rounds; i++) {
    const server = await start(
      join(root, 'packages/server', dir, 'buildd-server.mjs'),
      ['--port', '0', '--log-format', 'json'],
      serverEnv,
      /"url":"([^"]+)".*buildd-server listening/,
    );
    figures.serverStart.push(server.ms);
    const agent = await start(
      join(root, 'packages/agent', dir, 'buildd-agent.mjs'),
      [`--server=${server.match[1]}`, '--max-tasks=1'],
      { HOME: home, BUILDD_API_KEY: adminKey, ANTHROPIC_API_KEY: 'sk-ant-measure-never-used-0123456789' },
      /buildd agent starting/,
    );
    figures.agentStart.push(agent.ms);
    await sleep(8000);
    figures.serverRss.push(rssMb(server.child.pid));
    figures.agentRss.push(rssMb(agent.child.pid));
    await stop(agent.child);
    await stop(server.child);
  }
  console.log(
    `${way.padEnd(5)}  server: start ${Math.round(median(figures.serverStart))} ms, idle RSS ${median(figures.serverRss)} MB` +
      `   agent: start ${Math.round(median(figures.agentStart))} ms, idle RSS ${median(figures.agentRss)} MB` +
      `   (median of ${rounds})`,
  );
}
rmSync(home, { recursive: true, force: true });
