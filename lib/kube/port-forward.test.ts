import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { targetPortOf } from './port-forward.ts';

const service = {
  spec: {
    ports: [
      { name: 'nats', port: 4222, targetPort: 'nats' },
      { name: 'plain', port: 80, targetPort: 8080 },
      { name: 'same', port: 7422 },
    ],
  },
};
const pod = {
  spec: {
    containers: [
      { ports: [{ name: 'nats', containerPort: 4223 }] },
      { ports: [{ name: 'monitor', containerPort: 8222 }] },
    ],
  },
};

describe('targetPortOf', () => {
  it('follows the Service port to the container port, by name or number', () => {
    assert.equal(targetPortOf(service, pod, { port: 4222 }), 4223);
    assert.equal(targetPortOf(service, pod, { port: 'plain' }), 8080);
    assert.equal(targetPortOf(service, pod, { port: 7422 }), 7422);
  });

  it('tries the fallbacks on the Pod when the Service does not expose the port', () => {
    assert.equal(targetPortOf(service, pod, { port: 'monitor', fallback: ['monitor', 8222] }), 8222);
    assert.equal(targetPortOf(service, { spec: {} }, { port: 'monitor', fallback: ['monitor', 9999] }), 9999);
    assert.equal(targetPortOf(service, pod, { port: 'monitor' }), undefined);
  });
});
