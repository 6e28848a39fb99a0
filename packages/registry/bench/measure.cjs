// Runs one `catwalk` command in this process and appends
// {"seconds", "maxRssMiB"} as JSON to the file named by $CATWALK_MEASURE_OUT
// when it ends, so the benchmark sees each command's own peak RSS.
const fs = require('node:fs');
const path = require('node:path');

const { run } = require(path.resolve(__dirname, '../../cli/dist/main.js'));
const started = process.hrtime.bigint();
run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), color: false }).then(
  (code) => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const maxRssMiB = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
    fs.writeFileSync(process.env.CATWALK_MEASURE_OUT, JSON.stringify({ code, seconds, maxRssMiB }));
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exitCode = 70;
  },
);
