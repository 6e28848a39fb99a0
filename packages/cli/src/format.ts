// Human-readable output: diagnostics, the model summary table.

import { type Diagnostic, describeVersionPolicy, type ResolvedModel } from '@catwalk/schema';
import Table from 'cli-table3';
import { createColors } from 'picocolors';

export type Colors = ReturnType<typeof createColors>;
export const colors = (enabled: boolean): Colors => createColors(enabled);

export function formatDiagnostics(diagnostics: readonly Diagnostic[], c: Colors): string {
  return diagnostics
    .map((d) => {
      const where = d.line ? `${d.file}:${d.line}:${d.column ?? 1}` : d.file;
      const severity = d.severity === 'error' ? c.red(c.bold('error')) : c.yellow(c.bold('warning'));
      const field = d.path ? `${c.bold(d.path)}: ` : '';
      const head = `${c.cyan(where)}: ${severity}: ${field}${d.message} ${c.dim(`[${d.code}]`)}`;
      return d.fix ? `${head}\n    ${c.green('fix:')} ${d.fix}\n` : `${head}\n`;
    })
    .join('');
}

export function describeVersions(model: ResolvedModel): string {
  const labels = Object.entries(model.serving.versionLabels).map(([label, version]) => `${label}=${version}`);
  return labels.length
    ? `${describeVersionPolicy(model.serving.versionPolicy)} (${labels.join(' ')})`
    : describeVersionPolicy(model.serving.versionPolicy);
}

export function describeEndpoint(model: ResolvedModel): string {
  const grpc = model.endpoint.grpc ? ' +grpc' : '';
  return `${model.endpoint.host ?? '*'}${model.endpoint.path}${grpc}`;
}

/** One row per model: what runs where, at what size. */
export function summaryTable(models: readonly ResolvedModel[], c: Colors): string {
  const table = new Table({
    head: ['MODEL', 'TEAM', 'VERSIONS (LABELS)', 'A/B', 'REPLICAS', 'CPU/MEMORY', 'ENDPOINT'].map((h) =>
      c.bold(h),
    ),
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const model of models) {
    const { requests, gpu } = model.resources;
    const experiment = model.experiment
      ? `${model.experiment.canaryVersion}@${model.experiment.canaryWeight}%`
      : '-';
    table.push([
      model.name,
      model.team,
      describeVersions(model),
      experiment,
      `${model.scaling.minReplicas}-${model.scaling.maxReplicas}`,
      `${requests.cpu}/${requests.memory}${gpu ? ` +${gpu}gpu` : ''}`,
      describeEndpoint(model),
    ]);
  }
  return `${table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')}\n`;
}
