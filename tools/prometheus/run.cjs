// A real Prometheus for tests: own config, own temp storage, a free loopback
// port, stopped (and its storage removed) by stop(). The binary comes from
// CATWALK_PROMETHEUS (set by `npm run test:cluster`) or, failing that, from
// ensurePrometheus() in ./install.cjs.
//
//   const prom = await startPrometheus({ scrapeConfigs, ruleFiles });
//   await prom.waitForTargetsUp();
//   const series = await prom.query('up');
//   await prom.stop();
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const running = new Set();
process.on('exit', () => {
  // A test process that dies without its teardown must not leave servers behind.
  for (const child of running) child.kill('SIGKILL');
});

function prometheusBinary() {
  if (process.env.CATWALK_PROMETHEUS) return process.env.CATWALK_PROMETHEUS;
  return require('./install.cjs').ensurePrometheus().prometheus;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await response.json();
  if (body.status !== 'success') throw new Error(`${url}: ${body.errorType}: ${body.error}`);
  return body.data;
}

/**
 * Starts Prometheus scraping `scrapeConfigs` (Prometheus' own scrape_config
 * objects) and evaluating `ruleFiles` (absolute paths). Resolves once it
 * answers /-/ready; rejects with the tail of its log when it exits first.
 */
async function startPrometheus({
  scrapeConfigs = [],
  ruleFiles = [],
  scrapeInterval = '1s',
  evaluationInterval = '1s',
  readyTimeoutMs = 60_000,
} = {}) {
  const binary = prometheusBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-prometheus-'));
  const config = {
    global: {
      scrape_interval: scrapeInterval,
      evaluation_interval: evaluationInterval,
      scrape_timeout: scrapeInterval,
    },
    rule_files: ruleFiles.map((file) => path.resolve(file)),
    scrape_configs: scrapeConfigs,
  };
  const configFile = path.join(dir, 'prometheus.yml');
  // JSON is YAML: no YAML library needed for the config.
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const logFile = path.join(dir, 'prometheus.log');

  // Another process may take the port between probing and binding: try again.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const log = fs.openSync(logFile, 'w');
    const child = spawn(
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--log.level=info',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    running.add(child);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let exit;
    exited.then((value) => {
      exit = value;
      running.delete(child);
    });
    const url = `http://127.0.0.1:${port}`;
    const logTail = () => fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');

    const deadline = Date.now() + readyTimeoutMs;
    let ready = false;
    while (!exit && Date.now() < deadline) {
      try {
        const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await delay(100);
    }
    if (!ready) {
      if (!exit) {
        child.kill('SIGKILL');
        await exited;
      }
      const tail = logTail();
      if (/address already in use/.test(tail) && attempt < 5) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(
        exit
          ? `prometheus exited (${exit.signal ?? exit.code}) before it was ready:\n${tail}`
          : `prometheus was not ready within ${readyTimeoutMs} ms:\n${tail}`,
      );
    }

    let stopped;
    const stop = () => {
      if (!stopped) {
        stopped = (async () => {
          if (!exit) {
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(timer);
          }
          fs.rmSync(dir, { recursive: true, force: true });
        })();
      }
      return stopped;
    };

    const query = async (expr, time) => {
      const params = new URLSearchParams({ query: expr });
      if (time !== undefined) params.set('time', String(time));
      return (await getJson(`${url}/api/v1/query?${params}`)).result;
    };

    /** Waits until every configured target has been scraped successfully. */
    const waitForTargetsUp = async ({ timeoutMs = 60_000 } = {}) => {
      const expected = scrapeConfigs.reduce(
        (n, job) => n + (job.static_configs ?? []).reduce((m, sc) => m + (sc.targets ?? []).length, 0),
        0,
      );
      const until = Date.now() + timeoutMs;
      let targets = [];
      while (Date.now() < until) {
        if (exit) throw new Error(`prometheus exited (${exit.signal ?? exit.code}):\n${logTail()}`);
        targets = (await getJson(`${url}/api/v1/targets?state=active`)).activeTargets;
        if (targets.length >= expected && targets.every((t) => t.health === 'up')) return targets;
        await delay(250);
      }
      const states = targets.map(
        (t) => `${t.scrapeUrl}: ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`,
      );
      throw new Error(`targets not up within ${timeoutMs} ms:\n${states.join('\n') || '(no targets)'}`);
    };

    /** Rule groups as Prometheus loaded them (evaluation errors included). */
    const rules = async () => (await getJson(`${url}/api/v1/rules`)).groups;

    return { url, port, dir, query, rules, waitForTargetsUp, stop, logTail };
  }
}

module.exports = { startPrometheus };
