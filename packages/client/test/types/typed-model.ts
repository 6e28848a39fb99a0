// A model handle typed by its signature, as generated code declares it.
import { createClient, type Tensor, tensor } from '../../src/index.js';

interface PricingSignature {
  inputs: {
    features: { dtype: 'float32'; rank: 2 };
    region: { dtype: 'string'; rank: 1 };
  };
  outputs: {
    price: { dtype: 'float32'; rank: 2 };
    bucket: { dtype: 'int64'; rank: 1 };
  };
}

const client = createClient({ baseUrl: 'http://localhost:8501' });
const pricing = client.model<PricingSignature>('pricing');

export async function typed(): Promise<number> {
  const out = await pricing.predict({ features: [[1, 2, 3]], region: ['eu'] });
  const price: Tensor<'float32'> = out.price;
  const data: Float32Array = out.price.data;
  const bucket: BigInt64Array = out.bucket.data;
  // @ts-expect-error no such output
  out.prices;
  // @ts-expect-error bucket is int64, not float32
  const wrong: Float32Array = out.bucket.data;
  return price.shape.length + data.length + bucket.length + wrong.length;
}

export async function inputs(): Promise<void> {
  // Tensors, typed arrays and nested arrays of the right dtype and rank are accepted.
  await pricing.predict({ features: tensor(new Float32Array([1, 2]), [1, 2]), region: tensor(['eu']) });
  await pricing.predict({ features: new Float32Array([1, 2]), region: ['eu', 'us'] });
  // @ts-expect-error missing input "region"
  await pricing.predict({ features: [[1]] });
  // @ts-expect-error unknown input "feature"
  await pricing.predict({ feature: [[1]], region: ['eu'] });
  // @ts-expect-error features is float32: an int32 tensor is refused
  await pricing.predict({ features: tensor(new Int32Array([1]), [1, 1]), region: ['eu'] });
  // @ts-expect-error features has rank 2, not 1
  await pricing.predict({ features: [1, 2], region: ['eu'] });
  // @ts-expect-error region holds strings
  await pricing.predict({ features: [[1]], region: [1] });
}

export async function filtered(): Promise<void> {
  const out = await pricing.predict({ features: [[1]], region: ['eu'] }, { outputFilter: ['price'] });
  out.price.data.fill(0);
  // @ts-expect-error not in the filter
  out.bucket;
  // @ts-expect-error no such output to filter on
  await pricing.predict({ features: [[1]], region: ['eu'] }, { outputFilter: ['prices'] });
}

export async function untyped(): Promise<void> {
  // Without a signature type, any names and tensor-likes, as before.
  const out = await client.model('anything').predict({ x: [[1]], y: new Float64Array([1]) });
  const t: Tensor | undefined = out.whatever;
  void t;
}
