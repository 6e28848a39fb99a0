// Validates rendered Kubernetes objects against the API's own schemas, in a
// plain ESM process (@kubernetes/client-node 1.x is ESM-only).
// stdin: a JSON array of objects. stdout: a JSON array of problems.
// - kubernetes-models checks types, formats and required fields;
// - @kubernetes/client-node's typed models list every field an object may
//   have, which catches unknown fields (a misspelt `replica` is otherwise
//   silently dropped by the API server).
import { createRequire } from 'node:module';
// The whole namespace on purpose: model classes are looked up by kind name.
import * as k8s from '@kubernetes/client-node';

const require = createRequire(import.meta.url);

const input = JSON.parse(
  await new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => resolve(text));
  }),
);

function modelsModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [undefined, apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

function unknownFields(value, typeName, path, out) {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array) {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) unknownFields(item, array[1], `${path}[${i}]`, out);
    }
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) {
    for (const [key, item] of Object.entries(value)) unknownFields(item, map[1], `${path}.${key}`, out);
    return;
  }
  const model = k8s[typeName];
  if (!model || typeof model.getAttributeTypeMap !== 'function' || typeof value !== 'object') return;
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, item] of Object.entries(value)) {
    if (!attributes.has(key)) out.push(`${path}.${key}: unknown field of ${typeName}`);
    else unknownFields(item, attributes.get(key), `${path}.${key}`, out);
  }
}

/**
 * Kinds from CRDs, which neither library knows: the fields the Prometheus
 * Operator requires, and the ones this chart sets, checked by hand.
 */
const crdChecks = {
  'monitoring.coreos.com/v1 ServiceMonitor': (object) => {
    const out = [];
    const known = new Set([
      'selector',
      'endpoints',
      'targetLabels',
      'podTargetLabels',
      'namespaceSelector',
      'jobLabel',
    ]);
    for (const key of Object.keys(object.spec ?? {}))
      if (!known.has(key)) out.push(`spec.${key}: unknown field`);
    if (!object.spec?.selector?.matchLabels) out.push('spec.selector.matchLabels: required');
    if (!Array.isArray(object.spec?.endpoints) || object.spec.endpoints.length === 0)
      out.push('spec.endpoints: required');
    for (const [i, e] of (object.spec?.endpoints ?? []).entries()) {
      if (typeof e.port !== 'string') out.push(`spec.endpoints[${i}].port: a port name is required`);
    }
    return out;
  },
  // The Operator's CRD: groups of rules, each a recording rule or an alert with an expression.
  'monitoring.coreos.com/v1 PrometheusRule': (object) => {
    const out = [];
    const duration =
      /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;
    for (const key of Object.keys(object.spec ?? {}))
      if (key !== 'groups') out.push(`spec.${key}: unknown field`);
    if (!Array.isArray(object.spec?.groups)) out.push('spec.groups: required');
    for (const [g, group] of (object.spec?.groups ?? []).entries()) {
      const groupKeys = new Set([
        'name',
        'interval',
        'rules',
        'limit',
        'partial_response_strategy',
        'query_offset',
      ]);
      for (const key of Object.keys(group))
        if (!groupKeys.has(key)) out.push(`spec.groups[${g}].${key}: unknown field`);
      if (typeof group.name !== 'string' || !group.name) out.push(`spec.groups[${g}].name: required`);
      if (group.interval !== undefined && !duration.test(group.interval))
        out.push(`spec.groups[${g}].interval: not a duration`);
      for (const [r, rule] of (group.rules ?? []).entries()) {
        const at = `spec.groups[${g}].rules[${r}]`;
        const ruleKeys = new Set([
          'record',
          'alert',
          'expr',
          'for',
          'keep_firing_for',
          'labels',
          'annotations',
        ]);
        for (const key of Object.keys(rule)) if (!ruleKeys.has(key)) out.push(`${at}.${key}: unknown field`);
        if ((rule.record === undefined) === (rule.alert === undefined))
          out.push(`${at}: needs record or alert`);
        if (typeof rule.expr !== 'string' || !rule.expr) out.push(`${at}.expr: required`);
        if (rule.for !== undefined && !duration.test(rule.for)) out.push(`${at}.for: not a duration`);
        for (const map of ['labels', 'annotations']) {
          for (const [k, v] of Object.entries(rule[map] ?? {}))
            if (typeof v !== 'string') out.push(`${at}.${map}.${k}: must be a string`);
        }
      }
    }
    return out;
  },
};

const problems = [];
for (const object of input) {
  const where = `${object.kind}/${object.metadata?.name}`;
  const crd = crdChecks[`${object.apiVersion} ${object.kind}`];
  if (crd) {
    for (const problem of crd(object)) problems.push({ object: where, problem });
    continue;
  }
  let Model;
  try {
    Model = require(modelsModule(object.apiVersion, object.kind))[object.kind];
  } catch {
    problems.push({ object: where, problem: `no schema for ${object.apiVersion} ${object.kind}` });
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    problems.push({ object: where, problem: error.message });
  }
  const version = object.apiVersion.split('/').pop();
  const typeName = `${version[0].toUpperCase()}${version.slice(1)}${object.kind}`;
  if (!k8s[typeName]) {
    problems.push({ object: where, problem: `no typed model ${typeName}` });
    continue;
  }
  const unknown = [];
  unknownFields(object, typeName, where, unknown);
  for (const problem of unknown) problems.push({ object: where, problem });
}
process.stdout.write(JSON.stringify(problems));
