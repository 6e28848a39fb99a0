// Handlebars for the chart's text files (Chart.yaml, README.md, NOTES.txt).
// One private instance, no HTML escaping (wrong for YAML and Markdown), strict
// so a misspelt variable fails loudly. Values reach the output only through
// helpers that escape for the target format.

import Handlebars from 'handlebars';
import { textTemplates } from './generated/templates';

const hbs = Handlebars.create();

/**
 * Characters a YAML reader may not take literally even inside double quotes:
 * outside YAML's printable set (DEL, C1 controls, U+FFFE, U+FFFF), or line
 * breaks to YAML 1.1 readers such as Go's (NEL, U+2028, U+2029), which fold
 * them into spaces.
 */
const UNSAFE_IN_YAML = /[\u007f-\u009f\u2028\u2029\ufffe\uffff]/;
const UNSAFE_IN_YAML_ALL = new RegExp(UNSAFE_IN_YAML.source, 'g');

export function hasUnsafeYaml(text: string): boolean {
  return UNSAFE_IN_YAML.test(text);
}

/** Replaces those characters with \uXXXX escapes; valid only inside double-quoted scalars. */
export function escapeUnsafeYaml(text: string): string {
  return text.replace(UNSAFE_IN_YAML_ALL, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A double-quoted YAML scalar: JSON's string syntax is valid YAML, with the characters above escaped too. */
export function yamlString(value: unknown): string {
  return escapeUnsafeYaml(JSON.stringify(String(value ?? '')));
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
