import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from '../src/lib/logger.ts';
import { LogCapture, startTestApp, type TestApp } from './support/app.ts';
import { createUser, signInAs } from './support/factories.ts';

describe('log redaction', () => {
  it('redacts credentials, passwords, tokens and keys at any depth, and keeps the rest', () => {
    const capture = new LogCapture();
    const logger = createLogger({ level: 'info', destination: capture });
    logger.info(
      {
        req: { method: 'POST', headers: { Authorization: 'Bearer eyJsecret', cookie: 'sc_session=abc', 'x-request-id': 'r1' } },
        input: { email: 'dana@example.test', password: 'hunter2hunter2', nested: [{ refreshToken: 'rt-secret', clientSecret: 'cs-secret' }] },
        'SW-API-KEY': 'partner-key-secret',
        token_hash: 'th-secret',
      },
      'signing in',
    );
    const [entry] = capture.entries();
    const text = capture.text;
    for (const secret of ['eyJsecret', 'sc_session=abc', 'hunter2hunter2', 'rt-secret', 'cs-secret', 'partner-key-secret', 'th-secret']) {
      expect(text).not.toContain(secret);
    }
    expect(entry).toMatchObject({
      msg: 'signing in',
      req: { method: 'POST', headers: { Authorization: REDACTED, cookie: REDACTED, 'x-request-id': 'r1' } },
      input: { email: 'dana@example.test', password: REDACTED },
    });
  });

  describe('through the running server at the most verbose level', () => {
    let t: TestApp;
    let token: string;
    beforeAll(async () => {
      t = await startTestApp({ logLevel: 'trace' });
      const user = await createUser(t.db.prisma, { roles: ['ADMIN'] });
      token = (await signInAs(t.app.services, user.id)).token;
    });
    afterAll(async () => {
      await t?.close();
    });

    it('logs each request with its id, and never the bearer token, cookie or secret variables', async () => {
      const secretPassword = 'correct-horse-battery-staple';
      await t.graphql('query($password: ID!) { document(id: $password) { id } }', { password: secretPassword }, { token, headers: { cookie: 'sc_session=cookie-secret', 'x-safeclose-csrf': '1', 'x-request-id': 'trace-me' } });
      await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}&token_hash=query-secret`, { headers: { authorization: `Bearer ${token}` } });
      const text = t.logs.text;
      expect(text).not.toContain(token);
      expect(text).not.toContain(token.split('.')[2]);
      expect(text).not.toContain('cookie-secret');
      expect(text).not.toContain(secretPassword);
      expect(text).not.toContain('query-secret');
      const request = t.logs.entries().find((e) => e.msg === 'request' && e.requestId === 'trace-me');
      expect(request).toMatchObject({ method: 'POST', path: '/graphql', status: 200 });
    });
  });
});
