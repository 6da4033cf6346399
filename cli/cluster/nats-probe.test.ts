import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceOf } from './nats-probe.ts';

describe('serviceOf', () => {
  it('reads a Service and its namespace from the in-cluster address forms', () => {
    assert.deepEqual(serviceOf('nats', 'team'), { service: 'nats', namespace: 'team' });
    assert.deepEqual(serviceOf('nats.infra', 'team'), { service: 'nats', namespace: 'infra' });
    assert.deepEqual(serviceOf('nats.infra.svc', 'team'), { service: 'nats', namespace: 'infra' });
    assert.deepEqual(serviceOf('nats.infra.svc.cluster.local', 'team'), {
      service: 'nats',
      namespace: 'infra',
    });
  });

  it('leaves other hosts alone: they are dialled directly', () => {
    assert.equal(serviceOf('localhost', 'team'), undefined);
    assert.equal(serviceOf('demo.nats.example.com', 'team'), undefined);
    assert.equal(serviceOf('NATS', 'team'), undefined);
  });
});
