// What installing @catwalk/client gives: a light dependency set, both module
// formats, and no other Catwalk package.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const pkgDir = path.resolve(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));

test('depends on grpc-js, protobuf-es and undici only; prom-client and the OpenTelemetry API are optional peers', () => {
  expect(Object.keys(manifest.dependencies).sort()).toEqual([
    '@bufbuild/protobuf',
    '@grpc/grpc-js',
    'undici',
  ]);
  expect(manifest.peerDependenciesMeta['prom-client']).toEqual({ optional: true });
  expect(manifest.peerDependenciesMeta['@opentelemetry/api']).toEqual({ optional: true });
});

test('the sources import no other Catwalk package', () => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/from '@catwalk\//.test(fs.readFileSync(full, 'utf8'))) offenders.push(full);
    }
  };
  walk(path.join(pkgDir, 'src'));
  expect(offenders).toEqual([]);
});

test('the built package loads as CommonJS and as an ES module, with wire only behind its subpath', () => {
  const script = `
    const cjs = require('@catwalk/client');
    const cjsWire = require('@catwalk/client/wire');
    Promise.all([import('@catwalk/client'), import('@catwalk/client/wire')]).then(([esm, esmWire]) => {
      const t = esm.tensor(new Float32Array([1, 2]));
      const bytes = cjsWire.encodeTensor(t).tensorContent.length;
      process.stdout.write([typeof cjs.createClient, typeof esm.createClient, bytes,
        typeof esmWire.predictionServiceDefinition, 'wire' in cjs, 'wire' in esm].join(' '));
    });`;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: pkgDir, encoding: 'utf8' });
  expect(out.trim()).toBe('function function 8 object false false');
});

test('the root entry point exports the SDK and nothing of the wire format', () => {
  const script = `process.stdout.write(JSON.stringify(Object.keys(require('@catwalk/client')).sort()))`;
  const names = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: pkgDir, encoding: 'utf8' }));
  expect(names).toEqual([
    'CancelledError',
    'CatwalkError',
    'DeadlineExceededError',
    'InvalidInputError',
    'ModelNotFoundError',
    'PermissionDeniedError',
    'ResourceExhaustedError',
    'ServerError',
    'UnavailableError',
    'UnimplementedError',
    'createClient',
    'feature',
    'fromBfloat16',
    'fromFloat16',
    'openTelemetryHooks',
    'prometheusHooks',
    'tensor',
    'toBfloat16',
    'toFloat16',
    'toNested',
  ]);
});

test('importing the package loads neither optional peer (prom-client, @opentelemetry/api)', () => {
  const script = `
    require('@catwalk/client');
    const loaded = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](prom-client|@opentelemetry)[\\\\/]/.test(f));
    import('@catwalk/client').then(() => process.stdout.write(JSON.stringify(loaded)));`;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: pkgDir, encoding: 'utf8' });
  expect(JSON.parse(out)).toEqual([]);
});
