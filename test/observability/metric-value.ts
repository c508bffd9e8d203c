import type { Metrics } from '../../src/observability/metrics.ts';

/** Current value of one series (sum of a histogram when `suffix` is 'sum'/'count'). */
export async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const base = name.replace(/_(sum|count)$/, '');
  const metric = metrics.registry.getSingleMetric(base);
  if (!metric) throw new Error(`no metric ${base}`);
  const { values } = await metric.get();
  const match = values.find((v) =>
    (v as { metricName?: string }).metricName === undefined
      ? name === base && Object.entries(labels).every(([k, x]) => v.labels[k] === x)
      : (v as { metricName?: string }).metricName === name &&
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
  );
  return match?.value;
}
