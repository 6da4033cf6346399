/** Kubernetes label selector semantics, to tell which Prometheus selects a ServiceMonitor. No I/O. */
import type { V1LabelSelector } from '@kubernetes/client-node';

/** True when `labels` satisfy `selector`; an empty selector matches everything. */
export function matches(selector: V1LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(value ?? '')) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(value ?? '')) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Labels that satisfy the selector's positive terms (matchLabels, In, Exists). */
export function labelsSatisfying(selector: V1LabelSelector): Record<string, string> {
  const out: Record<string, string> = { ...(selector.matchLabels ?? {}) };
  for (const e of selector.matchExpressions ?? []) {
    if (e.operator === 'In' && e.values?.[0] !== undefined) out[e.key] ??= e.values[0];
    if (e.operator === 'Exists') out[e.key] ??= 'dwk';
  }
  return out;
}

export function describeSelector(selector: V1LabelSelector): string {
  const terms = [
    ...Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(selector.matchExpressions ?? []).map((e) => `${e.key} ${e.operator} (${(e.values ?? []).join(',')})`),
  ];
  return terms.length ? terms.join(', ') : '(everything)';
}
