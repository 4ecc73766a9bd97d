/**
 * The adapter's SigV4 signer against AWS's published test vector and against the SDK's own
 * signer on the same request: a signature real SQS would refuse cannot be seen on a local server
 * (it checks none), so it is checked here.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { SigV4Signer } from '../src/sigv4.js';

/** The request the SDK signs for `command`, captured after signing and never sent. */
async function sdkSigned(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, endpoint: string) {
  const client = new SQSClient({ region: 'eu-west-2', endpoint, credentials });
  let captured: { headers: Record<string, string>; body: string; path: string } | undefined;
  client.middlewareStack.add(
    (_next) => async (args) => {
      const request = args.request as { headers: Record<string, string>; body: Uint8Array | string; path: string };
      captured = { headers: { ...request.headers }, body: typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body), path: request.path };
      throw new Error('captured');
    },
    { step: 'finalizeRequest', priority: 'low', name: 'captureSignedRequest' },
  );
  const command = new SendMessageBatchCommand({
    QueueUrl: `${endpoint}/000000000000/work`,
    Entries: [{ Id: '0', MessageBody: '{"run":"ü ☃ \\u0000"}', MessageAttributes: { 'x-taskchart-run': { DataType: 'String', StringValue: 'r 1' } } }],
  });
  await expect(client.send(command)).rejects.toThrow('captured');
  client.destroy();
  if (!captured) throw new Error('the SDK sent nothing');
  return captured;
}

describe('SigV4 signing', () => {
  it("matches AWS's published test vector (post-vanilla)", () => {
    const headers = new SigV4Signer().sign({
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      region: 'us-east-1',
      service: 'service',
      path: '/',
      headers: { host: 'example.amazonaws.com' },
      body: '',
      now: Date.UTC(2015, 7, 30, 12, 36, 0),
    });
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
    expect(headers['authorization']).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
    );
  });

  for (const [label, credentials] of [
    ['static keys', { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }],
    ['a session token', { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret/+=', sessionToken: 'FwoGZXIvYXdzEJr//////////wEaDA+token==' }],
  ] as const) {
    it(`signs an SQS request as the SDK does, with ${label}`, async () => {
      const sdk = await sdkSigned(credentials, 'https://sqs.eu-west-2.amazonaws.com');
      const sdkAuthorization = sdk.headers['authorization'] ?? '';
      const signedNames = /SignedHeaders=([^,]+)/.exec(sdkAuthorization)?.[1]?.split(';') ?? [];
      expect(signedNames).toContain('x-amz-target');
      // Our signer adds the date and the token itself; give it every other header the SDK signed.
      const given = Object.fromEntries(signedNames.filter((n) => n !== 'x-amz-date' && n !== 'x-amz-security-token').map((n) => [n, sdk.headers[n] ?? '']));
      const date = sdk.headers['x-amz-date'] ?? '';
      const now = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8), +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
      const ours = new SigV4Signer().sign({ credentials, region: 'eu-west-2', service: 'sqs', path: sdk.path, headers: given, body: sdk.body, now });
      expect(ours['authorization']).toBe(sdkAuthorization);
      expect(ours['x-amz-security-token']).toBe(sdk.headers['x-amz-security-token']);
    });
  }

  it('keeps the signing key for the day, and derives a new one for another day or secret', () => {
    const signer = new SigV4Signer();
    const sign = (secret: string, now: number) =>
      signer.sign({ credentials: { accessKeyId: 'A', secretAccessKey: secret }, region: 'us-east-1', service: 'sqs', path: '/', headers: { host: 'h' }, body: '{}', now })['authorization'];
    const day1 = Date.UTC(2026, 0, 1, 10);
    const first = sign('s1', day1);
    expect(sign('s2', day1)).not.toBe(first);
    expect(sign('s1', day1)).toBe(first);
    expect(sign('s1', day1 + 86_400_000)).toContain('/20260102/');
    expect(new SigV4Signer().sign({ credentials: { accessKeyId: 'A', secretAccessKey: 's1' }, region: 'us-east-1', service: 'sqs', path: '/', headers: { host: 'h' }, body: '{}', now: day1 })['authorization']).toBe(first);
  });
});
