// spec.serving.signatures: the signatures callers depend on besides
// serving_default, which `catwalk release` checks like serving_default.
import { validateSpecValue } from '../src/validate';
import { baseSpec, withField } from './helpers';

const withSignatures = (value: unknown) => withField(baseSpec(), 'spec.serving.signatures', value);

describe('spec.serving.signatures', () => {
  it('resolves to the names listed, in order, and is absent when not given', () => {
    const result = validateSpecValue(withSignatures(['explain', 'embed']));
    expect(result.diagnostics).toEqual([]);
    expect(result.model?.serving.signatures).toEqual(['explain', 'embed']);
    expect(validateSpecValue(baseSpec()).model?.serving).not.toHaveProperty('signatures');
  });

  it.each([
    ['a single name instead of a list', 'explain'],
    ['an empty name', ['']],
    ['a name with spaces', ['my signature']],
    ['a number', [3]],
  ])('refuses %s, naming the field', (_what, value) => {
    const result = validateSpecValue(withSignatures(value));
    expect(result.model).toBeUndefined();
    const [d] = result.diagnostics;
    expect(d?.severity).toBe('error');
    expect(d?.path).toMatch(/^spec\.serving\.signatures/);
    expect(d?.fix).toBeTruthy();
  });

  it('refuses a name listed twice', () => {
    const result = validateSpecValue(withSignatures(['explain', 'explain']));
    expect(result.model).toBeUndefined();
    expect(result.diagnostics[0]).toMatchObject({
      severity: 'error',
      code: 'duplicate-items',
      path: 'spec.serving.signatures',
      fix: 'list each value once',
    });
  });
});
