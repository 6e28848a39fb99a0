// Handlebars for the chart's text files (Chart.yaml, README.md, NOTES.txt).
// One private instance, no HTML escaping (wrong for YAML and Markdown), strict
// so a misspelt variable fails loudly. Values reach the output only through
// helpers that escape for the target format.

import Handlebars from 'handlebars';
import { textTemplates } from './generated/templates';

const hbs = Handlebars.create();

/** A double-quoted YAML scalar: JSON's string syntax is valid YAML, with line separators escaped too. */
export function yamlString(value: unknown): string {
  return JSON.stringify(String(value ?? ''))
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Text safe inside a Markdown table cell: no pipes, no line breaks, no HTML. */
export function markdownText(value: unknown): string {
  return String(value ?? '')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n/g, ' ');
}

/** Inline code whose fence is longer than any backtick run inside it. */
export function markdownCode(value: unknown): string {
  const text = (typeof value === 'string' ? value : JSON.stringify(value))
    .replace(/\r?\n/g, ' ')
    .replace(/\|/g, '\\|');
  if (text === '') return '`""`';
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

hbs.registerHelper('json', (value: unknown) => yamlString(value));
hbs.registerHelper('markdown', (value: unknown) => markdownText(value));
hbs.registerHelper('markdownCode', (value: unknown) => markdownCode(value));

const compiled = new Map<string, HandlebarsTemplateDelegate>();

export function renderText(name: string, context: object): string {
  let template = compiled.get(name);
  if (!template) {
    const source = textTemplates[name];
    if (source === undefined) throw new Error(`no text template ${name}`);
    template = hbs.compile(source, { noEscape: true, strict: true });
    compiled.set(name, template);
  }
  return template(context);
}
