// What loading the built @catwalk/client costs: its transports (undici,
// grpc-js with protobuf-es) load only when a client first calls through them.
// The fake answers the calls (TF Serving itself cannot run here).
import { execFile } from 'node:child_process';
import { halfPlusTwo, startFakeServing } from '@catwalk/testing';

test('importing the package loads no transport; a client loads only its own, on its first call', async () => {
  const fake = await startFakeServing({ models: [halfPlusTwo()] });
  const loaded = (transport: string) => {
    const script = `
      const heavy = () => Object.keys(require.cache)
        .filter((f) => /node_modules\\/(undici|@grpc\\/grpc-js|@bufbuild\\/protobuf)\\//.test(f))
        .map((f) => f.match(/node_modules\\/(undici|@grpc\\/grpc-js|@bufbuild\\/protobuf)\\//)[1]);
      const { createClient } = require('@catwalk/client');
      const seen = [[...new Set(heavy())].sort().join('+') || 'none'];
      const client = createClient({ transport: '${transport}', baseUrl: '${fake.restUrl}', grpcAddress: '${fake.grpcAddress}' });
      client.model('half_plus_two').predict({ x: [[1]] }).then(async () => {
        seen.push([...new Set(heavy())].sort().join('+'));
        await client.close();
        process.stdout.write(seen.join(' then '));
      });`;
    return new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { cwd: __dirname, encoding: 'utf8' }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      ),
    );
  };
  try {
    expect(await loaded('rest')).toBe('none then undici');
    expect(await loaded('grpc')).toBe('none then @bufbuild/protobuf+@grpc/grpc-js');
  } finally {
    await fake.close();
  }
}, 60_000);
