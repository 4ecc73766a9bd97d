/**
 * The CSRF token: one random token per dashboard instance, sent by the page in the
 * `x-taskchart-csrf` header of every POST. A cross-site form cannot set a header (and cannot send
 * `application/json` without a CORS preflight the dashboard never answers), and cannot read the
 * token from the page.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CSRF_HEADER = 'x-taskchart-csrf';

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `req` carries `token` in its CSRF header, compared in constant time. */
export function hasCsrfToken(req: IncomingMessage, token: string): boolean {
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || sent.length === 0) return false;
  // Hashing first makes both sides one length: timingSafeEqual then leaks not even the length.
  return timingSafeEqual(digest(sent), digest(token));
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
