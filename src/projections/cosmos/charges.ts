import { AsyncLocalStorage } from 'node:async_hooks';
import type { PluginConfig } from '@azure/cosmos';
import { chargeOf } from './errors.ts';

/**
 * Request charges summed over EVERY HTTP response of a call: the SDK reports the headers of
 * one response per operation, while one call can be several (a change-feed read cycling
 * through 304s, 429 and 410 retries, partition-key-range and container reads). An SDK
 * request plugin adds each response's `x-ms-request-charge` to the call's running total.
 */
const current = new AsyncLocalStorage<{ total: number }>();

export const chargePlugin: PluginConfig = {
  on: 'request',
  plugin: async (context, _diagnosticNode, next) => {
    const acc = current.getStore();
    try {
      const r = await next(context);
      if (acc) acc.total += chargeOf(r.headers);
      return r;
    } catch (err) {
      if (acc) acc.total += chargeOf((err as { headers?: never }).headers);
      throw err;
    }
  },
};

/** Runs fn; its result's requestCharge becomes the sum over every response when that is more. */
export async function summingCharges<T extends { requestCharge: number }>(
  fn: () => Promise<T>,
): Promise<T> {
  const acc = { total: 0 };
  const r = await current.run(acc, fn);
  return acc.total > r.requestCharge ? { ...r, requestCharge: acc.total } : r;
}
