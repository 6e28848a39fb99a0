// The catwalk CLI (and so `catwalk sync`) as one CommonJS file, built from
// the TypeScript sources of the workspace packages by esbuild, plus the
// licence texts of every npm package that went into it.
'use strict';

const fs = require('node:fs');
const { isBuiltin } = require('node:module');
const path = require('node:path');
const esbuild = require('esbuild');

/**
 * `@catwalk/<x>` → packages/<x>/src/index.ts, so the bundle never depends on a
 * stale dist/; a subpath (`@catwalk/registry/tools/embedded-s3.cjs`) → that
 * file of the package. esbuild's `alias` cannot do both: it appends the
 * subpath to the aliased file.
 */
function workspaceSources(root) {
  const folders = {};
  for (const dir of fs.readdirSync(path.join(root, 'packages')).sort()) {
    const manifest = path.join(root, 'packages', dir, 'package.json');
    if (fs.existsSync(manifest) && fs.existsSync(path.join(root, 'packages', dir, 'src', 'index.ts'))) {
      folders[JSON.parse(fs.readFileSync(manifest, 'utf8')).name] = path.join(root, 'packages', dir);
    }
  }
  return {
    name: 'workspace-sources',
    setup(build) {
      build.onResolve({ filter: /^@catwalk\/[^/]+(\/.*)?$/ }, (args) => {
        const [, name, subpath] = /^(@catwalk\/[^/]+)(\/.*)?$/.exec(args.path);
        const folder = folders[name];
        if (!folder) return undefined;
        if (!subpath) return { path: path.join(folder, 'src', 'index.ts') };
        const file = path.join(folder, subpath);
        // Exported subpaths such as @catwalk/client/wire name a source module.
        return { path: fs.existsSync(file) ? file : path.join(folder, 'src', `${subpath.slice(1)}.ts`) };
      });
    },
  };
}

/** The package folder (…/node_modules/<name> or …/node_modules/@scope/<name>) a bundled input came from. */
function packageRootOf(input) {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at === -1) return undefined;
  const length = parts[at + 1]?.startsWith('@') ? 3 : 2;
  return parts.slice(0, at + length).join('/');
}

function licenceText(dir) {
  const name = fs
    .readdirSync(dir)
    .sort()
    .find((n) => /^(licen[cs]e|copying)(\.|$|-)/i.test(n));
  return name ? fs.readFileSync(path.join(dir, name), 'utf8').trim() : undefined;
}

/** One text file naming every bundled npm package, its version and licence, with the licence text. */
function thirdPartyNotices(root, inputs) {
  const dirs = [...new Set(inputs.map(packageRootOf).filter(Boolean))];
  const packages = dirs.map((dir) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
    return {
      id: `${manifest.name}@${manifest.version}`,
      license: manifest.license ?? 'see text',
      text: licenceText(path.join(root, dir)),
    };
  });
  const unique = [...new Map(packages.map((p) => [p.id, p])).values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const sections = unique.map(
    (p) => `${p.id} (${p.license})\n\n${p.text ?? '(the package ships no licence file)'}\n`,
  );
  return `The catwalk sidecar bundle includes these npm packages.\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`;
}

/**
 * Bundles packages/cli for the image's Node `nodeMajor`.
 * @returns {Promise<{ code: Buffer, notices: Buffer, optional: string[] }>} optional: modules
 *   the bundle tries to load and does without (absent from the image)
 */
async function bundleCli(root, nodeMajor) {
  const result = await esbuild.build({
    absWorkingDir: root,
    stdin: {
      contents: "require('./packages/cli/src/main.ts').runFromProcess();\n",
      resolveDir: root,
      sourcefile: 'image-entry.cjs',
      loader: 'js',
    },
    plugins: [workspaceSources(root)],
    bundle: true,
    platform: 'node',
    target: `node${nodeMajor}`,
    format: 'cjs',
    // Licences go to the notices file; keeping them in the bundle would only repeat them.
    legalComments: 'none',
    write: false,
    outfile: 'catwalk.cjs',
    metafile: true,
    logLevel: 'silent',
  });
  if (result.warnings.length > 0) {
    const text = await esbuild.formatMessages(result.warnings, { kind: 'warning' });
    throw new Error(`bundling the CLI produced warnings:\n${text.join('\n')}`);
  }
  const output = result.outputFiles.find((f) => f.path.endsWith('catwalk.cjs'));
  const meta = Object.values(result.metafile.outputs)[0];
  // esbuild fails on any import it cannot resolve, except a require() inside
  // try/catch: libraries use those for optional speed-ups (ws's bufferutil,
  // node-fetch's encoding) and carry on without them. Those are all that can
  // be left here besides Node's built-ins.
  const optional = [
    ...new Set(meta.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => i.path)),
  ].sort();
  return {
    code: Buffer.from(output.contents),
    notices: Buffer.from(thirdPartyNotices(root, Object.keys(result.metafile.inputs))),
    optional,
  };
}

module.exports = { bundleCli, packageRootOf };
