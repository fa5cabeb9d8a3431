import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { createOrganization, createUser, signInAs } from './support/factories.ts';

/** Polls until `condition` holds, for up to `timeoutMs` (the server logs after it answers). */
async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('what an operator finds in the log', () => {
  let t: TestApp;
  let token: string;
  let foreignOrganizationId: string;
  const clock = new ManualClock(Date.now());
  beforeAll(async () => {
    t = await startTestApp({ clock, logLevel: 'debug' });
    const user = await createUser(t.db.prisma);
    token = (await signInAs(t.app.services, user.id)).token;
    foreignOrganizationId = (await createOrganization(t.db.prisma)).organization.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  const forRequest = (requestId: string) => t.logs.entries().filter((e) => e.requestId === requestId);
  const withStack = (entries: Record<string, unknown>[]) => entries.filter((e) => JSON.stringify(e).includes('    at '));

  it('logs ordinary client errors below error level, without a stack, their codes on the one request line', async () => {
    const requests: Array<{ id: string; query: string; token?: string; code: string; operationName: string }> = [
      { id: 'client-not-found', query: 'query FindDocument { document(id: "00000000-0000-7000-8000-000000000000") { id } }', token, code: 'NOT_FOUND', operationName: 'FindDocument' },
      { id: 'client-bad-input', query: 'query ListDocuments { documents(first: -1) { edges { cursor } } }', token, code: 'BAD_USER_INPUT', operationName: 'ListDocuments' },
      { id: 'client-wrong-password', query: 'mutation SignIn { signIn(input: { email: "nobody@example.test", password: "wrong-password" }) { accessToken } }', code: 'UNAUTHENTICATED', operationName: 'SignIn' },
      { id: 'client-unauthenticated', query: 'query Me { me { id } }', token: 'not-a-token', code: 'UNAUTHENTICATED', operationName: 'Me' },
    ];
    for (const request of requests) {
      await t.graphql(request.query, {}, { token: request.token, headers: { 'x-request-id': request.id } });
      await waitFor(() => forRequest(request.id).some((e) => e.msg === 'request'));
      const entries = forRequest(request.id);
      expect(entries.filter((e) => e.level === 'error' || e.level === 'warn'), request.id).toEqual([]);
      expect(withStack(entries), request.id).toEqual([]);
      const lines = entries.filter((e) => e.msg === 'request');
      expect(lines, request.id).toHaveLength(1);
      expect(lines[0], request.id).toMatchObject({ level: 'info', operationName: request.operationName, errors: [expect.objectContaining({ code: request.code })] });
    }
    // The reason travels with the code.
    expect(forRequest('client-wrong-password').find((e) => e.msg === 'request')).toMatchObject({ errors: [{ code: 'UNAUTHENTICATED', reason: 'INVALID_CREDENTIALS' }] });

    // REST client errors alike.
    await fetch(`${t.url}/api/cs-authenticationTokens/exchange`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'client-rest' }, body: '{"value":"nope"}' });
    await waitFor(() => forRequest('client-rest').some((e) => e.msg === 'request'));
    expect(forRequest('client-rest').filter((e) => e.level === 'error' || e.level === 'warn')).toEqual([]);
    expect(forRequest('client-rest').find((e) => e.msg === 'request')).toMatchObject({ method: 'POST', path: '/api/cs-authenticationTokens/exchange', status: 401, errors: [{ code: 'UNAUTHENTICATED' }] });
  });

  it('logs an unexpected error once, at error level, with the request id, operation name and path', async () => {
    const now = clock.now.bind(clock);
    clock.now = () => {
      throw new Error('clock source failed');
    };
    try {
      const { body } = await t.graphql('mutation BrokenSignIn { signIn(input: { email: "nobody@example.test", password: "wrong-password" }) { accessToken } }', {}, { headers: { 'x-request-id': 'unexpected-1' } });
      expect(body.errors?.[0]?.extensions?.code).toBe('INTERNAL');
    } finally {
      clock.now = now;
    }
    await waitFor(() => forRequest('unexpected-1').some((e) => e.msg === 'request'));
    const errors = t.logs.entries().filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ msg: 'unexpected error', requestId: 'unexpected-1', operationName: 'BrokenSignIn', graphqlPath: 'signIn', method: 'POST', path: '/graphql', code: 'INTERNAL' });
    expect(JSON.stringify(errors[0])).toContain('clock source failed');
    expect(forRequest('unexpected-1').find((e) => e.msg === 'request')).toMatchObject({ operationName: 'BrokenSignIn', errors: [{ code: 'INTERNAL' }] });
  });

  it('logs a client error thrown by a subscription over WebSocket at info, with its code and no stack', async () => {
    const before = t.logs.lines.length;
    const client = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${token}` } });
    try {
      const errors = await new Promise<unknown>((resolve) => {
        client.subscribe(
          { query: 'subscription WatchForeign($o: ID!) { activity(organizationId: $o) { __typename } }', variables: { o: foreignOrganizationId } },
          { next: (value) => resolve((value as { errors?: unknown }).errors), error: resolve, complete: () => resolve(undefined) },
        );
      });
      expect(JSON.stringify(errors)).toMatch(/NOT_FOUND|FORBIDDEN/);
    } finally {
      await client.dispose();
    }
    await waitFor(() => t.logs.entries().slice(before).some((e) => e.msg === 'operation failed'));
    const entries = t.logs.entries().slice(before);
    expect(entries.filter((e) => e.level === 'error' || e.level === 'warn')).toEqual([]);
    expect(withStack(entries)).toEqual([]);
    expect(entries.find((e) => e.msg === 'operation failed')).toMatchObject({ level: 'info', operationName: 'WatchForeign', code: expect.stringMatching(/NOT_FOUND|FORBIDDEN/), requestId: expect.any(String) });
  });
});
