// Spec values carrying YAML, Go-template or handlebars syntax must either be
// refused by validation with a message naming the field, or come out of
// `helm template` as the same inert string. Every field a user types text
// into is tried with every payload; all accepted charts render in one helm run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ResolvedModel, validateSpecValue } from '@catwalk/schema';
import { parse, parseAllDocuments } from 'yaml';
import { generateChart, generateCharts } from '../src';
import { helmFiles } from '../src/generated/templates';
import { helm, tempDir, writeFiles } from './support/helm';

const payloads = [
  '{{ .Release.Name }}',
  '{{- fail "injected" -}}',
  '}}',
  '{{`raw`}}',
  'key: value',
  '# not a comment',
  `it's "quoted"`,
  'line one\nline two',
  '*alias',
  '&anchor',
  '!tag',
  '[1, 2]',
  'next\u0085line',
  'separator\u2028here',
  'del\u007fchar',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style placeholder is the payload
  '${HOME}',
];

type Place = (spec: Record<string, any>, payload: string) => void;

/** Free-text fields, and how a payload is put into each (wrapped where the field has a required form). */
const fields: Record<string, Place> = {
  'metadata.description': (s, p) => {
    s.metadata.description = p;
  },
  'metadata.team': (s, p) => {
    s.metadata.team = p;
  },
  'metadata.labels': (s, p) => {
    s.metadata.labels = { tier: p };
  },
  'spec.source.uri': (s, p) => {
    s.spec.source.uri = `s3://catwalk-models/${p}`;
  },
  'spec.source.endpoint': (s, p) => {
    s.spec.source.endpoint = `https://${p}`;
  },
  'spec.serving.image': (s, p) => {
    s.spec.serving = { image: `tensorflow/serving:${p}` };
  },
  'spec.serving.extraArgs': (s, p) => {
    s.spec.serving = { extraArgs: [`--rest_api_timeout_in_ms=${p}`] };
  },
  'spec.serving.versionLabels': (s, p) => {
    s.spec.serving = { versionPolicy: { specific: [1] }, versionLabels: { [p]: 1 } };
  },
  'spec.endpoint.host': (s, p) => {
    s.spec.endpoint = { host: p };
  },
  'spec.monitoring.path': (s, p) => {
    s.spec.monitoring = { path: `/${p}` };
  },
  'spec.access.roleArn': (s, p) => {
    s.spec.access = { roleArn: `arn:aws:iam::123456789012:role/${p}` };
  },
};

function spec(index: number): Record<string, any> {
  return {
    apiVersion: 'catwalk/v1',
    kind: 'Model',
    metadata: { name: `inject-${index}`, team: 'search' },
    spec: { source: { uri: `s3://catwalk-models/search/inject-${index}` } },
  };
}

/** Every string in a value, however deeply nested. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

const accepted: { field: string; payload: string; model: ResolvedModel }[] = [];
const refused: { field: string; payload: string; paths: string[]; messages: string[] }[] = [];
let index = 0;
for (const [field, place] of Object.entries(fields)) {
  for (const payload of payloads) {
    const value = spec(index++);
    place(value, payload);
    const result = validateSpecValue(value);
    if (result.model) accepted.push({ field, payload, model: result.model });
    else {
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      refused.push({
        field,
        payload,
        paths: errors.map((d) => d.path),
        messages: errors.map((d) => d.message),
      });
    }
  }
}

describe('metacharacters in spec values', () => {
  it('are refused with an error on the field itself, or accepted', () => {
    expect(accepted.length + refused.length).toBe(Object.keys(fields).length * payloads.length);
    for (const r of refused) {
      expect({
        field: r.field,
        payload: r.payload,
        onField: r.paths.every((p) => p.startsWith(r.field)),
      }).toEqual({
        field: r.field,
        payload: r.payload,
        onField: true,
      });
      expect(r.messages.join(' ')).not.toMatch(/internal|undefined|\[object/);
    }
    // Free text really is free: every payload is a valid description.
    expect(accepted.filter((a) => a.field === 'metadata.description')).toHaveLength(payloads.length);
  });

  it('that were accepted come out of helm template as the same inert strings', () => {
    const root = tempDir();
    const parent = path.join(root, 'injections');
    fs.mkdirSync(parent);
    fs.writeFileSync(path.join(parent, 'Chart.yaml'), 'apiVersion: v2\nname: injections\nversion: 0.0.1\n');
    writeFiles(generateCharts(accepted.map((a) => a.model)), path.join(parent, 'charts'));
    const result = helm(['template', 'all', parent]);
    expect(result.stderr).toBe('');
    const objects = parseAllDocuments(result.stdout)
      .map((d) => d.toJS())
      .filter(Boolean);
    for (const { field, payload, model } of accepted) {
      const own = objects.filter((o) => o.metadata?.labels?.['catwalk.dev/model'] === model.name);
      expect({ field, payload, objects: own.length > 0 }).toEqual({ field, payload, objects: true });
      const found = own.flatMap(strings).some((s) => s.includes(payload));
      expect({ field, payload, found }).toEqual({ field, payload, found: true });
      // Helm evaluated none of it: the release name never replaced a template payload.
      expect(
        own
          .flatMap(strings)
          .some((s) => s.includes(`inject-`) && s.includes('fail "injected"') && !s.includes('{{')),
      ).toBe(false);
    }
  });

  it('stay inert in the handlebars-rendered Chart.yaml and README', () => {
    for (const { payload, model } of accepted.filter((a) => a.field === 'metadata.description')) {
      const files = Object.fromEntries(generateChart(model).map((f) => [f.path, f.contents]));
      expect(parse(files['Chart.yaml']!).description).toBe(payload);
      expect(parse(files['values.yaml']!).model.description).toBe(payload);
      // The README shows it on one line, with Markdown table syntax escaped.
      expect(files['README.md']).not.toContain('line one\nline two');
      // NOTES.txt is a Helm template that reads values; no spec text is pasted into it.
      expect(files['templates/NOTES.txt']).toBe(helmFiles['templates/NOTES.txt']);
    }
  });
});
