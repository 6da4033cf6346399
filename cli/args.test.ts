import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../lib/errors.ts';
import { parseComponent, parseOutputFormat, parseReplicas, suggest } from './args.ts';

const message = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UserError);
    return err.message;
  }
  assert.fail('expected a UserError');
};

describe('argument parsing', () => {
  it('accepts every component', () => {
    for (const c of ['fetcher', 'mapper', 'saver', 'broadcaster']) assert.equal(parseComponent(c), c);
  });

  it('suggests the component a typo was meant to be', () => {
    assert.equal(
      message(() => parseComponent('mappr')),
      'unknown component "mappr"; did you mean "mapper"?',
    );
    assert.equal(
      message(() => parseComponent('Saver')),
      'unknown component "Saver"; did you mean "saver"?',
    );
    assert.equal(
      message(() => parseComponent('fetch')),
      'unknown component "fetch"; did you mean "fetcher"?',
    );
    assert.equal(
      message(() => parseComponent('database')),
      'unknown component "database"',
    );
  });

  it('accepts replicas from 0 to 1000', () => {
    assert.equal(parseReplicas('0'), 0);
    assert.equal(parseReplicas('10'), 10);
    assert.equal(parseReplicas('1000'), 1000);
  });

  it('rejects replicas that are not a whole number, negative or too many, each with its own message', () => {
    assert.equal(
      message(() => parseReplicas('ten')),
      'replicas must be a whole number from 0 to 1000 (got "ten")',
    );
    assert.equal(
      message(() => parseReplicas('2.5')),
      'replicas must be a whole number from 0 to 1000 (got "2.5")',
    );
    assert.equal(
      message(() => parseReplicas('')),
      'replicas must be a whole number from 0 to 1000 (got "")',
    );
    assert.equal(
      message(() => parseReplicas('-1')),
      'replicas cannot be negative (got -1)',
    );
    assert.equal(
      message(() => parseReplicas('1001')),
      'replicas must be at most 1000 (got 1001)',
    );
  });

  it('parses output formats and suggests a near miss', () => {
    assert.equal(parseOutputFormat('json'), 'json');
    assert.equal(parseOutputFormat('yaml'), 'yaml');
    assert.equal(
      message(() => parseOutputFormat('jsn')),
      'unknown output format "jsn"; did you mean "json"?',
    );
  });

  it('suggests nothing for a word far from every choice', () => {
    assert.equal(suggest('zzzzzz', ['mapper', 'saver']), undefined);
  });
});
