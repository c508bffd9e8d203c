import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.ts';

/**
 * deploy/grafana/asora.json and deploy/prometheus/alerts.yml against the code and the docs:
 * every metric they query is one the platform exports, the dashboard covers every metric
 * docs/operations.md lists, its JSON model is well formed, and every alert's runbook link
 * lands on a heading. (`promtool check rules` validates the rules themselves in CI.)
 */
const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
const dashboard = JSON.parse(read('deploy/grafana/asora.json')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string }[] };
  panels: Panel[];
};
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { refId: string; expr: string }[];
}
const alerts = read('deploy/prometheus/alerts.yml');
const operations = read('docs/operations.md');

async function exported(): Promise<Set<string>> {
  const m = new Metrics({ defaultMetrics: true });
  return new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
}

/** Metric names in a PromQL expression, histogram series folded to their metric. */
const metricsIn = (expr: string) =>
  [...expr.matchAll(/\basora_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const anchors = new Set(
  [...operations.matchAll(/^#+ (.+)$/gm)].map((m) =>
    m[1]!
      .toLowerCase()
      .replace(/[^\w\- ]/g, '')
      .replace(/ /g, '-'),
  ),
);

describe('Grafana dashboard (deploy/grafana/asora.json)', () => {
  const panels = dashboard.panels;
  const queried = panels.flatMap((p) => p.targets ?? []);

  it('is a well-formed dashboard model', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'job']);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels) {
      expect(['row', 'timeseries', 'stat', 'gauge', 'table'], p.title).toContain(p.type);
      const { h, w, x, y } = p.gridPos;
      for (const n of [h, w, x, y]) expect(Number.isInteger(n) && n >= 0, p.title).toBe(true);
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      // No two panels overlap.
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
      if (p.type === 'row') continue;
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets!) expect(metricsIn(t.expr).length, t.expr).toBeGreaterThan(0);
    }
  });

  it('queries only metrics the platform exports', async () => {
    const names = await exported();
    for (const t of queried) for (const m of metricsIn(t.expr)) expect(names, t.expr).toContain(m);
  });

  it('covers every metric docs/operations.md lists', () => {
    const documented = [...operations.matchAll(/^\| `(asora_[a-z0-9_]+)`/gm)].map((m) => m[1]!);
    expect(documented.length).toBeGreaterThanOrEqual(15);
    const covered = new Set(queried.flatMap((t) => metricsIn(t.expr)));
    for (const m of documented) expect(covered, m).toContain(m);
  });
});

describe('Prometheus alerts (deploy/prometheus/alerts.yml)', () => {
  const rules = [...alerts.matchAll(/- alert: (\w+)\n\s+expr: (.+)\n/g)].map((m) => ({
    name: m[1]!,
    expr: m[2]!,
  }));

  it('use only exported metrics', async () => {
    expect(rules.length).toBeGreaterThanOrEqual(6);
    const names = await exported();
    for (const r of rules) {
      expect(metricsIn(r.expr).length, r.name).toBeGreaterThan(0);
      for (const m of metricsIn(r.expr)) expect(names, r.name).toContain(m);
    }
  });

  it('each links to its runbook, a heading in docs/operations.md', () => {
    const links = [...alerts.matchAll(/runbook_url: docs\/operations\.md#([\w-]+)/g)].map(
      (m) => m[1]!,
    );
    expect(links.length).toBe(rules.length);
    for (const r of rules) expect(links, r.name).toContain(r.name.toLowerCase());
    for (const a of links) expect(anchors, a).toContain(a);
  });
});
