// Reads a Datadog API body with Datadog's own typed client (its v1 models,
// generated from the API's OpenAPI description) and lists what the client could
// not place: fields no model has, values outside an enum, objects matching no
// variant of a oneOf (a widget definition of no known type, say), and missing
// required fields.
import { v1 } from '@datadog/datadog-api-client';

export function leftovers(body: unknown, type: 'Dashboard' | 'Monitor'): string[] {
  let parsed: unknown;
  try {
    parsed = v1.ObjectSerializer.deserialize(body, type, '');
  } catch (error) {
    return [`${type}: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  const walk = (value: unknown, at: string) => {
    if (value === null || typeof value !== 'object' || value instanceof Date) return;
    if (value.constructor?.name === 'UnparsedObject') {
      const data = JSON.stringify((value as { _data?: unknown })._data);
      problems.push(`${at}: matches no type the API knows: ${data.slice(0, 160)}`);
      return;
    }
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walk(item, `${at}[${i}]`);
      return;
    }
    const record = value as Record<string, unknown>;
    const extra = record.additionalProperties as Record<string, unknown> | undefined;
    if (extra && Object.keys(extra).length > 0)
      problems.push(`${at}: unknown fields ${Object.keys(extra).join(', ')}`);
    for (const [key, child] of Object.entries(record)) {
      if (key !== 'additionalProperties' && key !== '_unparsed') walk(child, `${at}.${key}`);
    }
  };
  walk(parsed, type);
  return problems;
}
