import ts from 'typescript';
import { generateTypeScriptModule } from '../src';

// Signature, tensor and file names come from the model and may be any string.
// Inside the generated module's comments, a line break or a `*/` in one of
// them must not end the comment and put the rest into compiled code.
const payloads = [
  '*/ globalThis.pwned = 1; /*',
  'x\nglobalThis.pwned = 2;',
  'x\u2028globalThis.pwned = 3;',
  'x\r\nglobalThis.pwned = 4; //',
];

test.each(payloads)('hostile names stay inside comments: %j', (payload) => {
  const tensor = { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: payload };
  const code = generateTypeScriptModule({
    model: 'pricing',
    version: 3,
    source: `s3://bucket/${payload}`,
    signatures: {
      [payload]: { methodName: 'tensorflow/serving/predict', inputs: { x: tensor }, outputs: { y: tensor } },
      serving_default: {
        methodName: 'tensorflow/serving/predict',
        inputs: { x: tensor },
        outputs: { y: tensor, [payload]: { ...tensor, dtype: 'DT_RESOURCE' } },
      },
    },
  });
  const js = ts.transpileModule(code, { compilerOptions: { removeComments: true } }).outputText;
  expect(js).not.toContain('pwned');
  // The names themselves still reach the code, as string keys.
  expect(code).toContain(JSON.stringify(payload));
});

// Signature names that differ only in spelling ("serving_default" and "servingDefault") or that match
// the module's own declarations ("signatures" -> PricingSignatures) would give two declarations one
// name, and TypeScript merges same-named interfaces silently: each gets a name of its own instead.
test('signature names that map to the same type name get distinct types', () => {
  const tensor = (name: string) => ({ dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: name });
  const sig = (input: string) => ({
    methodName: 'tensorflow/serving/predict',
    inputs: { [input]: tensor(input) },
    outputs: { y: tensor('y') },
  });
  const code = generateTypeScriptModule({
    model: 'pricing',
    source: 'test',
    signatures: {
      serving_default: sig('a'),
      servingDefault: sig('b'),
      'serving-default': sig('c'),
      signatures: sig('d'),
      options: sig('e'),
    },
  });
  const file = ts.createSourceFile('m.ts', code, ts.ScriptTarget.ES2022);
  const declared = file.statements
    .filter(
      (s): s is ts.InterfaceDeclaration | ts.TypeAliasDeclaration =>
        ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s),
    )
    .map((s) => s.name.text);
  expect(new Set(declared).size).toBe(declared.length);
  // Each signature's entry in the map names the type that holds its own input.
  const map = file.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'PricingSignatures',
  )!;
  const typeOf = (prop: string) => {
    const member = map.members.find(
      (m) => m.name?.getText(file).replace(/"/g, '') === prop,
    ) as ts.PropertySignature;
    return member.type!.getText(file);
  };
  const inputOf = (typeName: string) => {
    const decl = file.statements.find(
      (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === typeName,
    )!;
    return decl.getText(file).match(/^\s+(\w+): \{ dtype: 'float32'; rank: 2 \};$/m)?.[1];
  };
  expect(
    ['serving_default', 'servingDefault', 'serving-default', 'signatures', 'options'].map((n) =>
      inputOf(typeOf(n)),
    ),
  ).toEqual(['a', 'b', 'c', 'd', 'e']);
});
