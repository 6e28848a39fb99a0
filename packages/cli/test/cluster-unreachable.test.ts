// Commands that talk to the cluster, when its API server cannot be reached:
// one line naming the server and the kubeconfig, never a stack trace.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { repoRoot, tempDir } from './run';

// A process, not in-process: the Kubernetes client is an ES module that jest's CommonJS runtime cannot load.
const catwalk = (args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'packages/cli/bin/catwalk.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** A port on loopback where nothing listens (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function kubeconfigFor(server: string): string {
  const file = path.join(tempDir(), 'kubeconfig');
  fs.writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: c',
      '  cluster:',
      `    server: ${server}`,
      'contexts:',
      '- name: c',
      '  context: {cluster: c, user: u}',
      'current-context: c',
      'users:',
      '- name: u',
      '  user: {token: x}',
      '',
    ].join('\n'),
  );
  return file;
}

it('catwalk status names the API server and the kubeconfig when the cluster cannot be reached', async () => {
  const server = `https://127.0.0.1:${await deadPort()}`;
  const kubeconfig = kubeconfigFor(server);
  const result = catwalk(['status', 'pricing', '--kubeconfig', kubeconfig]);
  expect(result.stderr).not.toContain('internal error');
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(server);
  expect(result.stderr).toContain(kubeconfig);
  expect(result.stderr).toContain('ECONNREFUSED');
});
