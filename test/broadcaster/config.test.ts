/** Bad configuration stops a real broadcaster process at start, naming the problem, never the secret. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const MAIN = new URL('../../workloads/main.ts', import.meta.url).pathname;
const SECRET = 'cOnFiGsEcReT-4242-abcdef';

function start(env: Record<string, string>) {
  const r = spawnSync(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      DWK_ROLE: 'broadcaster',
      DWK_PIPELINE: 'cfg',
      DWK_NATS_URL: 'nats://127.0.0.1:1',
      DWK_HTTP_PORT: '0',
      ...env,
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('broadcaster configuration', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    [
      'an unknown target type',
      { DWK_TARGET_TYPE: 'teams', DWK_TARGET_URL: `https://example.com/${SECRET}` },
      /DWK_TARGET_TYPE must be one of discord, slack, telegram, generic \(got \\"teams\\"\)/,
    ],
    ['a missing URL', { DWK_TARGET_TYPE: 'discord' }, /DWK_TARGET_URL is required/],
    [
      'a malformed URL',
      { DWK_TARGET_TYPE: 'slack', DWK_TARGET_URL: `hooks.slack.com/services/${SECRET}` },
      /DWK_TARGET_URL is not a valid http\(s\) URL for the slack target/,
    ],
    [
      'a malformed Telegram token',
      { DWK_TARGET_TYPE: 'telegram', DWK_TARGET_URL: `bot ${SECRET}`, DWK_TARGET_CHAT_ID: '1' },
      /DWK_TARGET_URL must be a Telegram bot token/,
    ],
    [
      'a telegram target without a chat id',
      { DWK_TARGET_TYPE: 'telegram', DWK_TARGET_URL: `123:${SECRET}` },
      /DWK_TARGET_CHAT_ID is required for a telegram target/,
    ],
    [
      'a target timeout not below the ack wait',
      {
        DWK_TARGET_TYPE: 'generic',
        DWK_TARGET_URL: `http://127.0.0.1/${SECRET}`,
        DWK_TARGET_TIMEOUT_MS: '5000',
        DWK_ACK_WAIT_SECONDS: '5',
      },
      /DWK_TARGET_TIMEOUT_MS must be below DWK_ACK_WAIT_SECONDS/,
    ],
  ];
  for (const [what, env, message] of cases) {
    it(`stops at start with exit code 78 on ${what}`, () => {
      const { code, out } = start(env);
      assert.equal(code, 78, out);
      assert.match(out, message);
      assert.ok(!out.includes(SECRET), `the secret is not in the output: ${out}`);
      const line = JSON.parse(out.trim().split('\n')[0] ?? '{}') as { level?: string };
      assert.equal(line.level, 'fatal');
    });
  }
});
