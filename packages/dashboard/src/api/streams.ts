/**
 * The live streams: `GET /api/runs/<id>/stream` (that run's events from the beginning, or after
 * `Last-Event-ID`, then live) and `GET /api/stream?chain=x` (every run's events from now on).
 */
import type { RequestContext } from '../context.js';
import { openFeed } from '../feed.js';
import { redactEvent } from '../redaction.js';
import { openEventStream } from '../sse.js';

export async function streamRun(ctx: RequestContext): Promise<void> {
  const runId = ctx.params[0] ?? '';
  const last = ctx.req.headers['last-event-id'];
  const after = typeof last === 'string' && last !== '' ? last : undefined;
  const feed = openFeed(ctx.options.client, { runId, ...(after === undefined ? {} : { after }) });
  let release = () => {};
  const stream = openEventStream(ctx.req, ctx.res, () => {
    feed.stop();
    release();
  });
  release = ctx.hold(() => stream.end());
  try {
    for await (const event of feed.events) {
      if (stream.closed) break;
      await stream.send(redactEvent(event, ctx.options.redacts));
    }
  } catch (error) {
    ctx.log(error);
  } finally {
    stream.end();
  }
}

export async function streamAll(ctx: RequestContext): Promise<void> {
  const chain = ctx.url.searchParams.get('chain') || undefined;
  let stop = () => {};
  let release = () => {};
  const stream = openEventStream(ctx.req, ctx.res, () => {
    stop();
    release();
  });
  release = ctx.hold(() => stream.end());
  stop = ctx.hub.listen(chain, (event) => void stream.send(redactEvent(event, ctx.options.redacts)), () => stream.end());
  await stream.done;
}
