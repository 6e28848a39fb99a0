// Helpers for testing the dashboard's PromQL: Grafana's variable
// substitution, and a syntax check with Prometheus' own lezer grammar.

// The package's types are ESM-only, but it ships a CommonJS build, which is what tests load.
type LezerPromql = typeof import('@prometheus-io/lezer-promql', { with: { 'resolution-mode': 'import' }});
const { parser } = require('@prometheus-io/lezer-promql') as LezerPromql;

/** The variables the dashboard's queries use, Grafana's built-ins included. */
const VARIABLE = /\$(__rate_interval|__interval|__range|namespace|model|track)\b/g;

/** The query Grafana sends: its variables replaced by the values a user picked. */
export function interpolate(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(VARIABLE, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for $${name}`);
    return value;
  });
}

/** Syntax errors lezer-promql finds in `expr` (its error nodes), each with where it is. */
export function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`at ${node.from}: '${expr.slice(node.from, node.from + 20)}'`);
    },
  });
  return errors;
}

/** Metric names a query reads (identifiers used as vector selectors). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        names.add(expr.slice(node.from, node.to));
      }
    },
  });
  return [...names];
}
