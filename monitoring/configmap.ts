/** The ConfigMap that Grafana's dashboard sidecar loads: pure, so `dwk dashboard` only applies it. */
import { UserError } from '../lib/errors.ts';

/** The sidecar's default in kube-prometheus-stack and the grafana chart. */
export const DEFAULT_DASHBOARD_LABEL = { grafana_dashboard: '1' };
export const DASHBOARD_CONFIGMAP = 'dwk-pipeline-dashboard';
export const DASHBOARD_FILE = 'dwk-pipeline.json';

/** `key=value` flags; a bare `key` means the value "1", as the sidecar's default. */
export function parseLabels(flags: string[]): Record<string, string> {
  if (flags.length === 0) return { ...DEFAULT_DASHBOARD_LABEL };
  const labels: Record<string, string> = {};
  for (const flag of flags) {
    const [key = '', ...rest] = flag.split('=');
    if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key)) {
      throw new UserError(`--label ${flag}: "${key}" is not a valid label key`, {
        hint: 'write --label key=value, e.g. --label grafana_dashboard=1',
      });
    }
    labels[key] = rest.length ? rest.join('=') : '1';
  }
  return labels;
}

export function dashboardConfigMap(json: string, namespace: string, labels: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: DASHBOARD_CONFIGMAP,
      namespace,
      labels: { ...labels, 'app.kubernetes.io/part-of': 'dwk', 'app.kubernetes.io/managed-by': 'dwk' },
    },
    data: { [DASHBOARD_FILE]: json },
  };
}
