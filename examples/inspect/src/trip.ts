/** The chain the worker runs and the inspector draws (both processes load the same definition). */
import { chain, NonRetryableError, task } from '@taskchart/core';

export const DB = process.env['TASKCHART_DB'] ?? 'taskchart-inspect.db';

export interface Order {
  readonly orderId: string;
  /** `ok` pays at once, `flaky` fails once then pays, `declined` never pays. */
  readonly card: 'ok' | 'flaky' | 'declined';
}

const attempts = new Map<string, number>();

const book = task('book', (order: Order) => ({ ...order, booking: `B-${order.orderId}` }), {
  compensate: (booked) => console.log(`worker: cancelled booking ${booked.booking}`),
});

const pay = task(
  'pay',
  (order: Order & { booking: string }, ctx) => {
    const n = (attempts.get(ctx.idempotencyKey) ?? 0) + 1;
    attempts.set(ctx.idempotencyKey, n);
    if (order.card === 'declined') throw new Error(`card declined for ${order.orderId}`);
    if (order.card === 'flaky' && n === 1) throw new Error('payment gateway timeout');
    if (order.card !== 'ok' && order.card !== 'flaky') throw new NonRetryableError(`unknown card ${String(order.card)}`);
    return { ...order, paid: true };
  },
  { retry: { maxRetries: 2, backoff: { initial: '500ms', jitter: 'none' } } },
);

export const trip = chain('trip', book, pay);
