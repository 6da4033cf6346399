/** Prometheus metrics of the controller: reconciles, durations, errors, queue depth, API traffic. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createControllerMetrics(depth: () => number, kubeRequests: () => Map<string, number>) {
  const registry = new Registry();
  registry.setDefaultLabels({ component: 'controller' });
  collectDefaultMetrics({ register: registry });
  const reportedKubeRequests = new Map<string, number>();
  return {
    registry,
    reconciles: new Counter({
      name: 'dwk_controller_reconciles_total',
      help: 'Reconciles by result: success, requeue, conflict (a write met a newer object; reconciled again) or error.',
      labelNames: ['result'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'dwk_controller_reconcile_duration_seconds',
      help: 'Time one reconcile takes.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    applies: new Counter({
      name: 'dwk_controller_applies_total',
      help: 'Server-side applies sent, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    statusWrites: new Counter({
      name: 'dwk_controller_status_writes_total',
      help: 'Status updates written.',
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'dwk_controller_leader',
      help: '1 while this replica leads.',
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'dwk_controller_queue_depth',
      help: 'Pipelines waiting to be reconciled.',
      registers: [registry],
      collect() {
        this.set(depth());
      },
    }),
    kubeRequests: new Counter({
      name: 'dwk_controller_kube_requests_total',
      help: 'Requests sent to the Kubernetes API, by verb.',
      labelNames: ['verb'],
      registers: [registry],
      collect() {
        // The client keeps totals since start; a Counter only adds, so add what is new since the last scrape.
        for (const [verb, total] of kubeRequests()) {
          const added = total - (reportedKubeRequests.get(verb) ?? 0);
          if (added > 0) this.inc({ verb }, added);
          reportedKubeRequests.set(verb, total);
        }
      },
    }),
  };
}

export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;
