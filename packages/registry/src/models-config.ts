// The live models.config the sidecar owns. TF Serving re-reads it every
// poll (--model_config_file_poll_wait_seconds), so a rollback or a label
// move takes effect with no redeploy. Written from the model's spec through
// @catwalk/schema's modelsConfig when we have the spec, else by replacing
// the version policy and labels in the generated template (the chart's
// ConfigMap), keeping every other field as generated.

import type { ResolvedModel, ResolvedVersionPolicy, TextProtoField, TextProtoMessage } from '@catwalk/schema';
import { InvalidRecordError } from './errors';
import type { InitialRelease } from './release';

/** @catwalk/schema on first use (about 200 ms to load): only a sidecar that writes models.config needs it. */
const schema = (): typeof import('@catwalk/schema') => require('@catwalk/schema');

export interface ServedConfig {
  readonly versions: readonly number[];
  readonly labels: Readonly<Record<string, number>>;
}

export type ConfigSource =
  | { readonly kind: 'model'; readonly model: ResolvedModel }
  | { readonly kind: 'template'; readonly text: string; readonly file: string; readonly modelName: string };

const isMessage = (v: TextProtoField['value']): v is TextProtoMessage =>
  typeof v === 'object' && v !== null && 'fields' in v;

const field = (name: string, value: TextProtoField['value']): TextProtoField => ({
  name,
  value,
  line: 0,
  column: 0,
});

/** The template's `config { ... }` entry for our model. */
function modelEntry(
  template: TextProtoMessage,
  source: Extract<ConfigSource, { kind: 'template' }>,
): TextProtoMessage {
  const list = template.fields.find((f) => f.name === 'model_config_list');
  const entries = list && isMessage(list.value) ? list.value.fields.filter((f) => f.name === 'config') : [];
  const messages = entries.map((e) => e.value).filter(isMessage);
  const named = (m: TextProtoMessage) => m.fields.find((f) => f.name === 'name')?.value;
  const entry =
    messages.find((m) => named(m) === source.modelName) ?? (messages.length === 1 ? messages[0] : undefined);
  if (!entry) {
    throw new InvalidRecordError(
      `${source.file}: no model_config_list.config entry named '${source.modelName}'; use the models.config generated for this model`,
    );
  }
  return entry;
}

function parseTemplate(source: Extract<ConfigSource, { kind: 'template' }>): TextProtoMessage {
  try {
    return schema().parseTextProto(source.text, source.file);
  } catch (error) {
    throw new InvalidRecordError(
      `${source.file}: not a models.config in protobuf text format (${(error as Error).message})`,
    );
  }
}

/** The spec's initial release as written in the template: its version policy and labels. */
export function initialFromConfig(source: ConfigSource): InitialRelease {
  if (source.kind === 'model') {
    return {
      versionPolicy: source.model.serving.versionPolicy,
      versionLabels: source.model.serving.versionLabels,
    };
  }
  const entry = modelEntry(parseTemplate(source), source);
  const policyField = entry.fields.find((f) => f.name === 'model_version_policy');
  let versionPolicy: ResolvedVersionPolicy = { kind: 'latest', count: 1 };
  if (policyField && isMessage(policyField.value)) {
    const kind = policyField.value.fields[0];
    if (kind?.name === 'all') versionPolicy = { kind: 'all' };
    if (kind?.name === 'specific' && isMessage(kind.value)) {
      versionPolicy = {
        kind: 'specific',
        versions: kind.value.fields.filter((f) => f.name === 'versions').map((f) => Number(f.value)),
      };
    }
    if (kind?.name === 'latest' && isMessage(kind.value)) {
      const n = kind.value.fields.find((f) => f.name === 'num_versions')?.value;
      versionPolicy = { kind: 'latest', count: n === undefined ? 1 : Number(n) };
    }
  }
  const versionLabels: Record<string, number> = {};
  for (const f of entry.fields.filter((x) => x.name === 'version_labels')) {
    if (!isMessage(f.value)) continue;
    const key = f.value.fields.find((x) => x.name === 'key')?.value;
    const value = f.value.fields.find((x) => x.name === 'value')?.value;
    if (typeof key === 'string' && value !== undefined) versionLabels[key] = Number(value);
  }
  return { versionPolicy, versionLabels };
}

/** models.config serving exactly `served`. */
export function renderModelsConfig(source: ConfigSource, served: ServedConfig): string {
  const versionPolicy: ResolvedVersionPolicy = {
    kind: 'specific',
    versions: [...served.versions].sort((a, b) => a - b),
  };
  if (source.kind === 'model')
    return schema().modelsConfig(source.model, { versionPolicy, versionLabels: served.labels });
  const template = parseTemplate(source);
  const entry = modelEntry(template, source);
  const replaced: TextProtoMessage = {
    fields: [
      ...entry.fields.filter((f) => f.name !== 'model_version_policy' && f.name !== 'version_labels'),
      field('model_version_policy', {
        fields: [field('specific', { fields: versionPolicy.versions.map((v) => field('versions', v)) })],
      }),
      ...Object.keys(served.labels)
        .sort()
        .map((label) =>
          field('version_labels', { fields: [field('key', label), field('value', served.labels[label]!)] }),
        ),
    ],
  };
  const swap = (msg: TextProtoMessage): TextProtoMessage => ({
    fields: msg.fields.map((f) =>
      f.value === entry ? { ...f, value: replaced } : isMessage(f.value) ? { ...f, value: swap(f.value) } : f,
    ),
  });
  return schema().formatTextProto(swap(template), {
    header: [
      `ModelServerConfig for model '${source.modelName}', written by catwalk sync from ${source.file}.`,
      'It follows the release in S3; edits here are overwritten on the next poll.',
    ],
  });
}
