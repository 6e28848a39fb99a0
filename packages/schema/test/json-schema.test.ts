import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { modelJsonSchema } from '../src/spec';
import { listFiles, readExample } from './helpers';

const schemaFile = path.resolve(__dirname, '../schema/model.schema.json');

describe('the published JSON Schema', () => {
  it('is the committed file, regenerated from the TypeBox definitions (run `npm run codegen` when this fails)', () => {
    expect(fs.readFileSync(schemaFile, 'utf8')).toBe(`${JSON.stringify(modelJsonSchema(), null, 2)}\n`);
  });

  it('is draft 2020-12, describes every property, and forbids unknown fields everywhere', () => {
    const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const walk = (node: any, where: string) => {
      if (node.type === 'object' && node.properties) {
        expect({ where, additionalProperties: node.additionalProperties }).toEqual({
          where,
          additionalProperties: false,
        });
        for (const [name, child] of Object.entries<any>(node.properties)) {
          expect({ where: `${where}.${name}`, described: typeof child.description === 'string' }).toEqual({
            where: `${where}.${name}`,
            described: true,
          });
          walk(child, `${where}.${name}`);
        }
      }
    };
    walk(schema, '');
  });

  it('accepts the examples and rejects a misspelt field when used by a stock validator, as an editor would', () => {
    const validate = new Ajv2020({ allErrors: true, allowUnionTypes: true }).compile(
      JSON.parse(fs.readFileSync(schemaFile, 'utf8')),
    );
    for (const file of listFiles('models')) {
      expect({ file, valid: validate(parse(readExample(file).text)) }).toEqual({ file, valid: true });
    }
    expect(validate(parse(readExample('invalid/unknown-field.yaml').text))).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({
      keyword: 'additionalProperties',
      params: { additionalProperty: 'minReplica' },
    });
  });
});
