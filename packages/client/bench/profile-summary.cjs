// Per-call CPU of the SDK's own functions in a .cpuprofile written by
// `node --cpu-prof bench/profile-load.cjs` (inclusive: a function's time
// with everything it calls, undici included where it calls undici).
//
//   node bench/profile-summary.cjs <file.cpuprofile> <calls>
const fs = require('node:fs');

const [file, callsText] = process.argv.slice(2);
const calls = Number(callsText);
if (!file || !(calls > 0)) {
  console.error('usage: node bench/profile-summary.cjs <file.cpuprofile> <calls>');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const inclusive = new Map();
const self = new Map();
const name = (frame) =>
  `${frame.functionName || '(anonymous)'} ${frame.url.replace(/.*\/(packages|node_modules)\//, '')}:${frame.lineNumber + 1}`;
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const leaf = byId.get(id).callFrame;
  self.set(name(leaf), (self.get(name(leaf)) ?? 0) + dt);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parentOf.get(at)) {
    const frame = byId.get(at).callFrame;
    if (!frame.url.includes('client/dist/')) continue;
    const key = name(frame);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  }
});
console.log('| SDK function (inclusive) | µs per call |\n|---|---:|');
for (const [key, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`| ${key} | ${(us / calls).toFixed(2)} |`);
}
console.log(`\n| self time, all code | % of samples |\n|---|---:|`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
  console.log(`| ${key} | ${((100 * us) / total).toFixed(1)} |`);
}
