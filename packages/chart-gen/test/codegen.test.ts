import * as fs from 'node:fs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { render, target } = require('../tools/embed-templates.cjs') as { render(): string; target: string };

describe('src/generated/templates.ts', () => {
  it('matches helm/ and templates/ (run `npm run codegen` when this fails)', () => {
    expect(fs.readFileSync(target, 'utf8')).toBe(render());
  });
});
