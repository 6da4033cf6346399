/**
 * The Grafana dashboard of a pipeline (monitoring/grafana/dwk-pipeline.json) and what tests and
 * `dwk dashboard` need of it: its text, every PromQL query, and Grafana's variable substitution.
 */
import { readFileSync } from 'node:fs';

export const DASHBOARD_PATH = new URL('./grafana/dwk-pipeline.json', import.meta.url).pathname;

interface Target {
  refId: string;
  expr: string;
}
interface Panel {
  title: string;
  type: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query: string };
}
export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

export const dashboardText = (): string => readFileSync(DASHBOARD_PATH, 'utf8');

export const loadDashboard = (): Dashboard => JSON.parse(dashboardText()) as Dashboard;

/** Every query of every panel, rows included. */
export function dashboardQueries(d: Dashboard): DashboardQuery[] {
  const walk = (panels: Panel[]): DashboardQuery[] =>
    panels.flatMap((p) => [
      ...(p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })),
      ...walk(p.panels ?? []),
    ]);
  return walk(d.panels);
}

/** Query variables in dashboard order (later ones may use earlier ones), with their PromQL. */
export function queryVariables(d: Dashboard): Array<{ name: string; query: string }> {
  return d.templating.list
    .filter((v) => v.type === 'query' && v.query !== undefined)
    .map((v) => ({ name: v.name, query: typeof v.query === 'string' ? v.query : (v.query?.query ?? '') }));
}

/** `label_values(selector, label)`, the form Grafana's Prometheus variables take. */
export function parseLabelValues(query: string): { selector: string; label: string } | undefined {
  const m = /^label_values\((?:(.+),\s*)?(\w+)\)$/.exec(query.trim());
  if (!m?.[2]) return undefined;
  return { selector: m[1] ?? '', label: m[2] };
}

/** Grafana's substitution for one value per variable: `$name` and `${name}`, plus the built-ins given. */
export function substitute(expr: string, values: Record<string, string>): string {
  return expr.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? '';
      return values[name] ?? whole;
    },
  );
}
