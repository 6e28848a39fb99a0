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
