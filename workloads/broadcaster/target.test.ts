import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpoint, requestBody, scrub, secretsOf, targetProblems, type Target } from './target.ts';

const names = { url: 'DWK_TARGET_URL', chatId: 'DWK_TARGET_CHAT_ID', api: 'DWK_TELEGRAM_API_URL' };
const tg = (secret: string, chatId: string | undefined = '42'): Target => ({
  type: 'telegram',
  secret,
  chatId,
  telegramApi: 'https://api.telegram.org',
});

describe('targets', () => {
  it('builds the Telegram sendMessage URL from a bot token, with an overridable API base', () => {
    assert.equal(endpoint(tg('123:ABC-def_9')).href, 'https://api.telegram.org/bot123:ABC-def_9/sendMessage');
    assert.equal(
      endpoint({ ...tg('123:ABC'), telegramApi: 'http://127.0.0.1:9/' }).href,
      'http://127.0.0.1:9/bot123:ABC/sendMessage',
    );
  });
  it('asks Discord to wait, so a 2xx means the message was saved', () => {
    const t: Target = {
      type: 'discord',
      secret: 'https://discord.com/api/webhooks/1/tok',
      chatId: undefined,
      telegramApi: '',
    };
    assert.equal(endpoint(t).searchParams.get('wait'), 'true');
  });
  it('formats each body as the service documents it', () => {
    const discord = JSON.parse(requestBody({ type: 'discord', chatId: undefined }, 'x'.repeat(2500))) as {
      content: string;
    };
    assert.equal([...discord.content].length, 2000);
    assert.deepEqual(JSON.parse(requestBody({ type: 'slack', chatId: undefined }, 'a<b')), {
      text: 'a&lt;b',
    });
    assert.deepEqual(JSON.parse(requestBody({ type: 'telegram', chatId: '-100' }, 'hi')), {
      chat_id: -100,
      text: 'hi',
    });
    assert.deepEqual(JSON.parse(requestBody({ type: 'telegram', chatId: '@chan' }, 'hi')), {
      chat_id: '@chan',
      text: 'hi',
    });
    assert.deepEqual(
      JSON.parse(requestBody({ type: 'generic', chatId: undefined }, 'Todo created: Buy milk')),
      {
        user: 'bot',
        message: 'Todo created: Buy milk',
      },
    );
  });
  it('reports configuration problems without quoting the secret', () => {
    const problems = [
      ...targetProblems(
        { type: 'slack', secret: 'not a url s3cr3t', chatId: undefined, telegramApi: '' },
        names,
      ),
      ...targetProblems({ ...tg('123:s3cr3t'), chatId: undefined }, names),
    ];
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /DWK_TARGET_URL is not a valid http\(s\) URL/);
    assert.match(problems[1] ?? '', /DWK_TARGET_CHAT_ID is required/);
    assert.ok(problems.every((p) => !p.includes('s3cr3t')));
  });
  it('redacts the token wherever it appears alone, e.g. inside a Telegram path', () => {
    const secrets = secretsOf(tg('123456:AAE-secretTokenValue'));
    const text = 'POST /bot123456:AAE-secretTokenValue/sendMessage failed; token AAE-secretTokenValue';
    assert.equal(scrub(text, secrets), 'POST [REDACTED] failed; token [REDACTED]');
    const discord = secretsOf({
      type: 'discord',
      secret: 'https://discord.com/api/webhooks/111/tOkEn-abcdefgh',
      telegramApi: '',
    });
    assert.equal(scrub('error at tOkEn-abcdefgh', discord), 'error at [REDACTED]');
  });
});
