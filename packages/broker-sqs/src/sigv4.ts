/**
 * AWS Signature Version 4 for the adapter's own SQS requests (`sqs-http-client.ts`): one POST
 * of a JSON body to an endpoint path, signed in the `Authorization` header. The SDK signs the
 * same way (the tests compare both on one request); doing it here costs two SHA-256 and one
 * HMAC per request, because the day's signing key (four HMACs) is kept until the date, region
 * or secret changes.
 *
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export interface SignInput {
  readonly credentials: SigningCredentials;
  readonly region: string;
  readonly service: string;
  /** The request path as it goes on the wire (already URI-encoded), e.g. `/`. */
  readonly path: string;
  /** Headers to sign and send (lower-case names; `host` included). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Signing time, epoch ms. */
  readonly now: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** `20261129T081406Z` */
function amzDate(now: number): string {
  const iso = new Date(now).toISOString(); // 2026-11-29T08:14:06.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/**
 * Non-S3 services sign the path URI-encoded once more (each segment, `/` kept), so `%20` in the
 * path is `%2520` in the canonical request.
 */
function canonicalPath(path: string): string {
  if (path === '/' || path === '') return '/';
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

export class SigV4Signer {
  private keyScope = '';
  private key: Buffer = Buffer.alloc(0);
  private keySecret = '';
  private dateSecond = NaN;
  private date = '';

  /** The headers to send: the given ones plus `x-amz-date`, `x-amz-security-token` (if any) and `authorization`. */
  sign(input: SignInput): Record<string, string> {
    // Many requests are signed within one second: format its date once.
    const second = Math.floor(input.now / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.date = amzDate(input.now);
    }
    const date = this.date;
    const day = date.slice(0, 8);
    const headers: Record<string, string> = { ...input.headers, 'x-amz-date': date };
    if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken;
    const names = Object.keys(headers).sort();
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${(headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`;
    const signedHeaders = names.join(';');
    const canonicalRequest = `POST\n${canonicalPath(input.path)}\n\n${canonicalHeaders}\n${signedHeaders}\n${sha256Hex(input.body)}`;
    const scope = `${day}/${input.region}/${input.service}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${date}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = createHmac('sha256', this.signingKey(input.credentials.secretAccessKey, scope, day, input.region, input.service))
      .update(stringToSign)
      .digest('hex');
    headers['authorization'] = `${ALGORITHM} Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  private signingKey(secret: string, scope: string, day: string, region: string, service: string): Buffer {
    if (scope !== this.keyScope || secret !== this.keySecret) {
      this.key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
      this.keyScope = scope;
      this.keySecret = secret;
    }
    return this.key;
  }
}
