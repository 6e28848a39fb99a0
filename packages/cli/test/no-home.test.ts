// A container often runs as a uid with no passwd entry and no HOME (the
// chart's runAsUser, `docker run --user`). Node's os.homedir() then throws,
// and the AWS SDK calls it on every shared-config lookup. The registry
// commands must still work with credentials from the environment.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type LocalS3, repoRoot, startLocalS3, tempDir } from './run';

const bin = path.join(repoRoot, 'packages/cli/bin/catwalk.js');
// Switching to a uid the system does not know needs root (setpriv); CI runs as root.
const asRoot = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
const describeAsRoot = asRoot ? describe : describe.skip;

let server: LocalS3 | undefined;
let endpoint = '';
const s3Dir = tempDir();

describeAsRoot('without a home directory', () => {
  beforeAll(async () => {
    server = await startLocalS3(s3Dir);
    endpoint = server.endpoint;
  });

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(s3Dir, { recursive: true, force: true });
  });

  it('catwalk versions works as a uid with no passwd entry and HOME unset', async () => {
    // No HOME and no pointer to shared config files: the SDK has only os.homedir() to ask.
    const {
      HOME: _home,
      AWS_CONFIG_FILE: _config,
      AWS_SHARED_CREDENTIALS_FILE: _credentials,
      ...rest
    } = process.env;
    const env = {
      ...rest,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        'setpriv',
        [
          '--reuid',
          '54321',
          '--regid',
          '54321',
          '--clear-groups',
          process.execPath,
          bin,
          'versions',
          's3://models/nohome/m',
          '--endpoint',
          endpoint,
          '--json',
        ],
        { cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c));
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(result.stderr).not.toContain('internal error');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.code).toBe(0);
  });
});
