import { createClient } from '@catwalk/client';
import { halfPlusTwo, startFakeServing } from '@catwalk/testing';

test.each(['rest', 'grpc'] as const)(
  'half_plus_two answers y = 0.5x + 2 through the SDK over %s',
  async (transport) => {
    const fake = await startFakeServing({ models: [halfPlusTwo()] });
    const client = createClient({ baseUrl: fake.restUrl, grpcAddress: fake.grpcAddress, transport });
    try {
      const { y } = await client.model('half_plus_two').predict({ x: [1, 2, 5] });
      expect(y).toEqual({ dtype: 'float32', shape: [3, 1], data: new Float32Array([2.5, 3, 4.5]) });
    } finally {
      await client.close();
      await fake.close();
    }
  },
);
