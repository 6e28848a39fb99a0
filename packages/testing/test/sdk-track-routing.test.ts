// During an A/B test the load balancer routes a gRPC call to the track that
// serves its label or version by the x-catwalk-label / x-catwalk-version
// metadata (gRPC carries both inside the message, where the balancer cannot
// look). The SDK sends them whenever a gRPC handle names a label or version;
// REST needs nothing, its path names both.
// The fake stands in for TF Serving, which cannot run here; the headers are
// what arrived over a real loopback gRPC connection.
import { createClient } from '@catwalk/client';
import { type FakeServing, halfPlusTwo, startFakeServing } from '@catwalk/testing';

let fake: FakeServing;
beforeAll(async () => {
  fake = await startFakeServing({
    models: [halfPlusTwo({ versions: [1, 2], policy: { all: true }, labels: { stable: 1, canary: 2 } })],
  });
});
afterAll(() => fake.close());

const headersOf = (requestId: string) =>
  fake.requests.find((r) => r.headers['x-request-id'] === requestId)?.headers;

test('a gRPC handle that names a label or version says so in metadata', async () => {
  const transport = 'grpc';
  const client = createClient({ transport, grpcAddress: fake.grpcAddress });
  try {
    await client.model('half_plus_two', { label: 'canary' }).status({ requestId: `${transport}-label` });
    await client.model('half_plus_two', { version: 2 }).status({ requestId: `${transport}-version` });
    await client.model('half_plus_two').status({ requestId: `${transport}-plain` });
  } finally {
    await client.close();
  }
  expect(headersOf(`${transport}-label`)).toMatchObject({ 'x-catwalk-label': 'canary' });
  expect(headersOf(`${transport}-label`)).not.toHaveProperty('x-catwalk-version');
  expect(headersOf(`${transport}-version`)).toMatchObject({ 'x-catwalk-version': '2' });
  expect(headersOf(`${transport}-version`)).not.toHaveProperty('x-catwalk-label');
  // An unaddressed call carries neither, so the balancer splits it by weight.
  expect(headersOf(`${transport}-plain`)).not.toHaveProperty('x-catwalk-label');
  expect(headersOf(`${transport}-plain`)).not.toHaveProperty('x-catwalk-version');
});
