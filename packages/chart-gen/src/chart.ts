// A model's Helm chart, as files in memory: Chart.yaml, values.yaml,
// values.schema.json, the static templates, docs, CI value sets and the IAM
// policies. Pure and deterministic: the same model gives the same bytes.

import { createHash } from 'node:crypto';
import type { ResolvedModel } from '@catwalk/schema';
import { Document, isMap, isScalar, Scalar, visit, type YAMLMap } from 'yaml';
import { helmFiles } from './generated/templates';
import { pushPolicy, servingPolicy } from './iam';
import { buildDashboard } from './monitoring/dashboard';
import { buildDatadog } from './monitoring/datadog';
import { buildPrometheusRule, SYNC_TIMING_PLACEHOLDERS } from './monitoring/rules';
import { escapeUnsafeYaml, hasUnsafeYaml, renderText } from './text';
import { CATWALK_VERSION, type ChartOptions, chartValues, VALUE_DOCS } from './values';
import { valuesJsonSchema } from './values-schema';

export interface ChartFile {
  /** Path relative to the chart folder (or, from generateCharts, to the output folder). */
  readonly path: string;
  readonly contents: string;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

// The same for every chart: serialised once.
let schemaText: string | undefined;
const valuesSchemaText = () => {
  schemaText ??= json(valuesJsonSchema());
  return schemaText;
};

/**
 * Patterns of the implicit types (null, bool, int, float, timestamp, merge) of
 * YAML 1.1 and 1.2, taken from the yaml library's own schemas. A string that
 * matches one would not read back as a string unquoted; Helm's YAML parser
 * follows 1.1 in places (`yes`, `1_000`), so both count.
 */
const implicitTypes: RegExp[] = (['1.1', '1.2'] as const).flatMap((version) =>
  new Document(null, { version }).schema.tags.flatMap((tag) => (tag.test ? [tag.test] : [])),
);

function ambiguous(text: string): boolean {
  // Go's YAML readers strip '_' and hand anything starting like a number to
  // strconv (so "0o1_7" or "1e1_0" become numbers there): quote all of those.
  return /^[-+.]?[0-9]/.test(text) || implicitTypes.some((pattern) => pattern.test(text));
}

/** YAML text in which every string stays a string for any YAML reader: `yes`, `1_0`, `0o17` get quotes. */
function yamlText(doc: Document): string {
  visit(doc, {
    Scalar(_, node) {
      if (typeof node.value !== 'string') return;
      if (hasUnsafeYaml(node.value) || (!node.value.includes('\n') && ambiguous(node.value))) {
        node.type = Scalar.QUOTE_DOUBLE;
      }
    },
  });
  // Those characters now stand only inside double quotes, where an escape is valid.
  return escapeUnsafeYaml(doc.toString({ lineWidth: 0, indentSeq: true }));
}

/** values.yaml text: the values with each documented key's comment above it. */
function valuesYaml(values: Record<string, unknown>, header: string[]): string {
  const doc = new Document(values);
  const annotate = (node: unknown, prefix: string) => {
    if (!isMap(node)) return;
    for (const pair of (node as YAMLMap).items) {
      if (!isScalar(pair.key)) continue;
      const key = prefix ? `${prefix}.${String(pair.key.value)}` : String(pair.key.value);
      const comment = VALUE_DOCS.get(key);
      if (comment) pair.key.commentBefore = ` ${comment}`;
      annotate(pair.value, key);
    }
  };
  annotate(doc.contents, '');
  doc.commentBefore = header.map((line) => ` ${line}`).join('\n');
  return yamlText(doc);
}

interface Parameter {
  readonly key: string;
  readonly value: unknown;
  readonly description: string;
}

/** Keys with documented keys below them: the README lists their children, not them. */
const documentedParents = new Set(
  [...VALUE_DOCS.keys()].flatMap((key) =>
    key
      .split('.')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('.')),
  ),
);

/** One row per documented setting, for the README; multi-line values are left to values.yaml. */
function parameters(values: Record<string, unknown>): Parameter[] {
  const rows: Parameter[] = [];
  const isPlainObject = (v: unknown): v is Record<string, unknown> =>
    !!v && typeof v === 'object' && !Array.isArray(v);
  const walk = (value: unknown, key: string) => {
    if (isPlainObject(value) && documentedParents.has(key)) {
      for (const [child, v] of Object.entries(value)) walk(v, `${key}.${child}`);
      return;
    }
    const description = VALUE_DOCS.get(key);
    if (!description) return;
    const multiline = typeof value === 'string' ? value.includes('\n') : JSON.stringify(value).length > 80;
    rows.push({ key, value: multiline ? '(see values.yaml)' : value, description });
  };
  for (const [key, value] of Object.entries(values)) walk(value, key);
  return rows;
}

/** Value sets the chart is tested with (helm lint / template run once per file). */
function ciValueSets(model: ResolvedModel): ChartFile[] {
  const experiment = model.experiment
    ? { experiment: { weights: { stable: 50, canary: 50 } } }
    : {
        // Main pods must follow the stable label to run beside a canary.
        sync: { mainTrack: 'stable' },
        experiment: {
          enabled: true,
          stableVersion: 1,
          canaryVersion: 2,
          weights: { stable: 100, canary: 0 },
        },
      };
  const sets: Record<string, unknown> = {
    default: {},
    experiment,
    minimal: {
      ingress: { enabled: false },
      networkPolicy: { enabled: false },
      serviceAccount: { create: false, name: 'models' },
      metrics: { serviceMonitor: { enabled: false }, datadog: { enabled: false } },
      monitoring: { prometheusRule: { enabled: false }, grafanaDashboard: { enabled: false } },
    },
    production: {
      environment: 'prod',
      loadBalancer: {
        scheme: 'internet-facing',
        tls: { enabled: true, redirectHttp: true },
        attributes: { 'idle_timeout.timeout_seconds': 120 },
      },
      ingress: {
        host: model.endpoint.host ?? 'models.example.com',
        certificateArns: [
          'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000',
        ],
      },
      autoscaling: { minReplicas: Math.max(3, model.scaling.minReplicas) },
      podDisruptionBudget: { maxUnavailable: '10%' },
      podAnnotations: { 'example.com/owner': model.team },
      metrics: { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } } },
      monitoring: { prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } } },
    },
    'node-credentials': { credentials: { mode: 'node', roleArn: '' } },
    'pod-identity': { credentials: { mode: 'podIdentity', roleArn: '' } },
  };
  return Object.entries(sets).map(([name, values]) => ({
    path: `ci/${name}-values.yaml`,
    contents: yamlText(new Document(values)),
  }));
}

/**
 * Placeholders the PrometheusRule template replaces with what only helm
 * knows: the release's namespace, its Deployments' names and the thresholds
 * that follow sync.intervalSeconds.
 */
export const RULE_PLACEHOLDERS = {
  namespace: '__CATWALK_NAMESPACE__',
  workload: '__CATWALK_MAIN__',
  canaryWorkload: '__CATWALK_CANARY__',
  syncTimings: SYNC_TIMING_PLACEHOLDERS,
} as const;

/** Data files of the monitoring templates, read with .Files.Get (helm does not render them). */
function monitoringFiles(model: ResolvedModel): ChartFile[] {
  const rules = buildPrometheusRule(model, RULE_PLACEHOLDERS);
  const header = [
    `Recording rules and alerts of model ${model.name}, generated from its spec (spec.monitoring.slo).`,
    'templates/prometheusrule.yaml puts them into a PrometheusRule, with the placeholders replaced.',
  ];
  // Every rule spelled out: no YAML anchors for the label maps rules share.
  const doc = new Document({ groups: rules.groups }, { aliasDuplicateObjects: false });
  doc.commentBefore = header.map((line) => ` ${line}`).join('\n');
  const files: ChartFile[] = [
    { path: 'monitoring/prometheus-rules.yaml', contents: yamlText(doc) },
    // Read by templates/grafana-dashboard.yaml into the ConfigMap Grafana's sidecar loads.
    { path: 'monitoring/grafana-dashboard.json', contents: json(buildDashboard(model).json) },
  ];
  if (model.monitoring.datadog) {
    // Beside the chart, not in it (.helmignore): applied through Datadog's API or Terraform.
    const datadog = buildDatadog(model);
    files.push(
      { path: 'datadog/dashboard.json', contents: json(datadog.dashboard) },
      { path: 'datadog/monitors.json', contents: json(datadog.monitors) },
    );
  }
  return files;
}

/** A short content hash of the chart's other files: the chart version changes whenever the chart does. */
function contentHash(files: readonly ChartFile[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(`${file.path}\0${file.contents}\0`);
  }
  return hash.digest('hex').slice(0, 12);
}

const HELMIGNORE = `# Files helm package leaves out of the chart archive.
.DS_Store
.git/
*.swp
*.bak
*.tmp
*.orig
*~
# Datadog dashboard and monitors, for the Datadog API rather than the cluster.
datadog/
`;

/** Every file of the model's chart. */
export function generateChart(model: ResolvedModel, options: ChartOptions = {}): ChartFile[] {
  const v = chartValues(model, options);
  const values = v as unknown as Record<string, unknown>;
  const host = model.endpoint.host;
  const scheme = model.endpoint.tls.enabled ? 'https' : 'http';
  const baseUrl = host
    ? `${scheme}://${host.startsWith('*.') ? `${model.name}.${host.slice(2)}` : host}`
    : `http://${model.name}:8501`;
  const grpcAddress = model.endpoint.grpc
    ? v.ingress.grpc.host
      ? `${v.ingress.grpc.host}:443`
      : `${model.name}:8500`
    : '';
  const policy = model.serving.versionPolicy;
  const versions =
    policy.kind === 'specific'
      ? `versions ${policy.versions.join(', ')}`
      : policy.kind === 'all'
        ? 'every version present'
        : policy.count === 1
          ? 'the newest version'
          : `the ${policy.count} newest versions`;
  const header = [
    `Values of the Catwalk chart for model ${model.name} (team ${model.team}).`,
    'Generated from the model spec: change the spec and run `catwalk generate` rather than editing here.',
    'Override single values at install time with --set or -f; values.schema.json checks them.',
  ];
  const context = {
    name: model.name,
    team: model.team,
    description: model.description,
    appVersion: v.tfServing.image.tag || v.tfServing.image.digest,
    specHash: v.model.specHash,
    baseUrl,
    restUrl: `${baseUrl}${model.endpoint.path}`,
    grpcAddress,
    group: v.loadBalancer.group || `catwalk-${v.environment}`,
    tls: model.endpoint.tls.enabled,
    versions,
    experiment: model.experiment ?? false,
    datadog: model.monitoring.datadog,
    parameters: parameters(values),
  };
  const files: ChartFile[] = [
    { path: '.helmignore', contents: HELMIGNORE },
    { path: 'README.md', contents: renderText('README.md', context) },
    { path: 'values.yaml', contents: valuesYaml(values, header) },
    { path: 'values.schema.json', contents: valuesSchemaText() },
    ...Object.entries(helmFiles).map(([path, contents]) => ({ path, contents })),
    ...ciValueSets(model),
    ...monitoringFiles(model),
    { path: 'iam-policy.json', contents: json(servingPolicy(model)) },
    { path: 'push-policy.json', contents: json(pushPolicy(model)) },
  ];
  // Helm and Argo CD tell charts apart by version: a changed chart gets a new one.
  const chartVersion = `${options.catwalkVersion ?? CATWALK_VERSION}+${contentHash(files)}`;
  files.push({ path: 'Chart.yaml', contents: renderText('Chart.yaml', { ...context, chartVersion }) });
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Charts for several models, each in a folder named after the model. */
export function generateCharts(models: readonly ResolvedModel[], options: ChartOptions = {}): ChartFile[] {
  return [...models]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((model) =>
      generateChart(model, options).map((f) => ({ path: `${model.name}/${f.path}`, contents: f.contents })),
    );
}
