// catwalk dev s3 in-process, against the real embedded S3: what it prints and
// writes, and what it does when its port is taken.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { devS3Command } from '../src/commands/dev';
import { tempDir } from './run';

function io(cwd: string) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
      cwd,
      color: false,
    },
  };
}

/** Runs the command until `stop` is called; resolves its exit code. */
function start(options: Parameters<typeof devS3Command>[0], cwd: string) {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const t = io(cwd);
  const ready = new Promise<void>((resolve) => {
    const write = t.io.stdout.write;
    t.io.stdout.write = (text: string) => {
      const r = write(text);
      if (t.out.stdout.includes('Ctrl-C')) resolve();
      return r;
    };
  });
  const done = devS3Command(options, t.io, () => stopped);
  return {
    out: t.out,
    ready: Promise.race([
      ready,
      done.then(
        () => undefined,
        () => undefined,
      ),
    ]),
    stop,
    done,
  };
}

test('writes the export lines to an env file to source, and removes it when it stops', async () => {
  const dir = tempDir();
  const run = start({ dir: 's3', port: '0', bucket: [], envFile: '.catwalk/s3.env' }, dir);
  await run.ready;
  const file = path.join(dir, '.catwalk', 's3.env');
  const printed = [...run.out.stdout.matchAll(/^\s*(export \S+)$/gm)].map((m) => m[1]);
  expect(printed).toHaveLength(4);
  expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toEqual(printed);
  expect(run.out.stdout).toContain('source .catwalk/s3.env');
  const endpoint = /AWS_ENDPOINT_URL_S3=(\S+)/.exec(run.out.stdout)![1]!;
  expect((await fetch(`${endpoint}/catwalk-models?list-type=2`)).status).toBe(200);
  run.stop();
  expect(await run.done).toBe(0);
  expect(fs.existsSync(file)).toBe(false);
});

test('when the default port is taken it takes a free one and says so; a port asked for explicitly is not replaced', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = String((blocker.address() as net.AddressInfo).port);
  try {
    const dir = tempDir();
    const run = start({ dir: 's3', port: taken, bucket: [], envFile: 's3.env', portIsDefault: true }, dir);
    await run.ready;
    expect(run.out.stdout).toContain(`port ${taken} is in use`);
    const endpoint = /AWS_ENDPOINT_URL_S3=(\S+)/.exec(run.out.stdout)![1]!;
    expect(endpoint).not.toBe(`http://127.0.0.1:${taken}`);
    expect((await fetch(`${endpoint}/catwalk-models?list-type=2`)).status).toBe(200);
    run.stop();
    expect(await run.done).toBe(0);

    const explicit = start({ dir: 's3', port: taken, bucket: [], envFile: 's3.env' }, tempDir());
    await expect(explicit.done).rejects.toThrow(`port ${taken} on 127.0.0.1 is in use`);
  } finally {
    blocker.close();
  }
});
