import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../lib/errors.ts';
import { parseNatsUrl } from './nats-url.ts';

const refusal = (value: string) => {
  try {
    parseNatsUrl(value);
  } catch (err) {
    assert.ok(err instanceof UserError);
    return `${err.message} | ${err.hint ?? ''}`;
  }
  return assert.fail(`expected ${value} to be refused`);
};

describe('--nats-url', () => {
  it('takes host:port as the NATS client does, and gives it nats:// for the workloads', () => {
    assert.equal(parseNatsUrl('127.0.0.1:4222'), 'nats://127.0.0.1:4222');
    assert.equal(parseNatsUrl('nats://a:4222, b:4223,tls://c'), 'nats://a:4222,nats://b:4223,tls://c');
  });

  it('refuses websockets, HTTP and an empty entry, saying why', () => {
    assert.match(refusal('ws://nats:8080'), /"ws:\/\/nats:8080" is not a NATS URL \| .*websockets/);
    assert.match(refusal('wss://nats:443'), /websockets/);
    assert.match(refusal('http://nats:8222'), /monitoring port/);
    assert.match(refusal('nats://a:4222,'), /"" is not a NATS URL/);
    assert.match(refusal('nats://user:pw@a:4222'), /is not a NATS URL/);
  });
});
