/**
 * Wires the controller: informers → queue → reconciler, behind leader election, with /metrics,
 * /healthz and /readyz. `runController` is what `dwk controller` and the in-cluster entrypoint call.
 */
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { UnavailableError } from '../lib/errors.ts';
import { isConflict, KubeClient, type KubeObject } from '../lib/kube/client.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import type { ControllerConfig } from './config.ts';
import { Informer, keyOf, MonitoringInformers, ownerKeyOf } from './informer.ts';
import { LeaderElector } from './leader.ts';
import { createControllerMetrics } from './metrics.ts';
import { natsAuthReader } from '../lib/kube/nats-auth.ts';
import { natsSide } from './nats.ts';
import { Reconciler, type PipelineObject } from './reconcile.ts';
import { WorkQueue } from './queue.ts';

export interface RunningController {
  /** Resolves when the controller has stopped. */
  done: Promise<void>;
  port: number;
  isLeader(): boolean;
}

async function serve(config: ControllerConfig, handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.httpPort, config.httpHost, () => resolve());
  });
  return server;
}

/** As controller-runtime's default CacheSyncTimeout. */
export const CACHE_SYNC_TIMEOUT_MS = 120_000;

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });

type CacheSync = 'synced' | 'stopped' | 'timeout';

/** Waits for `sync`, unless `stop` aborts first or `timeoutMs` passes. */
export async function waitForCaches(
  sync: Promise<unknown>,
  stop: AbortSignal,
  timeoutMs: number,
): Promise<CacheSync> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      sync.then((): CacheSync => (stop.aborted ? 'stopped' : 'synced')),
      aborted(stop).then((): CacheSync => 'stopped'),
      sleep<CacheSync>(timeoutMs, 'timeout', { signal: timer.signal }),
    ]);
  } finally {
    timer.abort(); // no timer left behind to hold the process
  }
}

export interface RunOptions {
  /** How long the informers may take to list before the process gives up (and is restarted). */
  cacheSyncTimeoutMs?: number;
}

export async function runController(
  config: ControllerConfig,
  signal: AbortSignal,
  log: Logger = createLogger({ level: config.logLevel, base: { component: 'controller' } }),
  options: RunOptions = {},
): Promise<RunningController> {
  const client = KubeClient.fromKubeconfig(config.kubeconfig, config.context);
  const queue = new WorkQueue({ workers: config.workers });
  const metrics = createControllerMetrics(
    () => queue.depth,
    () => client.requests,
  );
  const elector = config.leaderElection
    ? new LeaderElector({
        client,
        namespace: config.leaseNamespace,
        name: config.leaseName,
        identity: config.identity,
        log,
      })
    : undefined;
  let synced = false;

  const server = await serve(config, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      // Having lost the lease, the process only winds down to exit: should that hang, restart it.
      const healthy = !elector?.hasLostLeadership();
      res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok\n' : 'lost leadership\n');
    } else if (path === '/readyz') {
      // A standby is ready: it is doing its job. A leader is ready once its caches have synced.
      const ready = !elector?.isLeader() || synced;
      res.writeHead(ready ? 200 : 503).end(ready ? 'ready\n' : 'syncing\n');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else res.writeHead(404).end();
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  log.info(
    { port, namespace: config.namespace ?? '(all)', identity: config.identity },
    'Controller starting',
  );

  const lead = async (lost: AbortSignal) => {
    metrics.leader.set(1);
    const scope = config.namespace ? { namespace: config.namespace } : {};
    const pipelines = new Informer<PipelineObject>({
      client,
      resource: { apiVersion: 'dwk.dev/v1alpha1', kind: 'Pipeline', ...scope },
      log,
      onChange: (o) => queue.add(keyOf(o)),
    });
    // An owned object that changed or went: its Pipeline puts it back.
    const enqueueOwner = (o: KubeObject) => {
      const key = ownerKeyOf(o);
      if (key) queue.add(key);
    };
    const owned = { labelSelector: 'app.kubernetes.io/managed-by=dwk', log, onChange: enqueueOwner };
    const deployments = new Informer<V1Deployment & KubeObject>({
      client,
      resource: { apiVersion: 'apps/v1', kind: 'Deployment', ...scope },
      ...owned,
    });
    const services = new Informer<V1Service & KubeObject>({
      client,
      resource: { apiVersion: 'v1', kind: 'Service', ...scope },
      ...owned,
    });
    const monitoring = new MonitoringInformers({
      client,
      namespace: config.namespace,
      log,
      onOwnedChange: enqueueOwner,
      onObservationChange: () => {
        for (const p of pipelines.list()) queue.add(keyOf(p));
      },
    });
    const auth = natsAuthReader(client);
    const nats = natsSide(
      log,
      (key) => queue.add(key),
      (namespace, secret) => auth.read(namespace, secret),
    );
    const reconciler = new Reconciler({
      client,
      log,
      pipelines,
      deployments,
      services,
      monitoring,
      metrics,
      nats,
    });
    const syncTimeoutMs = options.cacheSyncTimeoutMs ?? CACHE_SYNC_TIMEOUT_MS;
    let resync: NodeJS.Timeout | undefined;
    try {
      deployments.start();
      services.start();
      pipelines.start();
      // Monitoring waits a few seconds at most for its lists: until then MonitoringReady says it cannot tell.
      const caches = await waitForCaches(
        Promise.all([
          pipelines.waitForSync(),
          deployments.waitForSync(),
          services.waitForSync(),
          monitoring.start(),
        ]),
        lost,
        syncTimeoutMs,
      );
      if (caches === 'stopped') return;
      if (caches === 'timeout') {
        // A list that keeps failing (RBAC, say) never syncs: exit non-zero and be restarted.
        const why = [pipelines, deployments, services]
          .filter((i) => !i.hasSynced())
          .map((i) => `${i.kind}: ${i.lastError?.message ?? 'no answer'}`);
        throw new UnavailableError(
          'kubernetes',
          `the caches did not sync within ${syncTimeoutMs / 1000} s (${why.join('; ') || 'the monitoring API discovery'})`,
        );
      }
      synced = true;
      log.info({ pipelines: pipelines.list().length }, 'Caches synced');
      queue.start(async (key) => {
        const end = metrics.reconcileDuration.startTimer();
        try {
          const result = await reconciler.reconcile(key);
          metrics.reconciles.inc({ result: result.requeueAfterMs ? 'requeue' : 'success' });
          return result;
        } catch (err) {
          if (isConflict(err)) {
            // Optimistic concurrency: our cached copy was stale. The informer brings the new one.
            metrics.reconciles.inc({ result: 'conflict' });
            log.debug({ pipeline: key }, 'Conflict on write; reconciling again with the newer object');
            return { requeueAfterMs: 100 };
          }
          metrics.reconciles.inc({ result: 'error' });
          log.error({ err, pipeline: key }, 'Reconcile failed; retrying with backoff');
          throw err;
        } finally {
          end();
        }
      });
      // Level-based safety net for missed events: reconcile everything now and then. Only what
      // differs from the live objects is written (drift is seen through the informers).
      resync = setInterval(() => {
        for (const p of pipelines.list()) queue.add(keyOf(p));
      }, config.resyncSeconds * 1000);
      await aborted(lost);
    } finally {
      clearInterval(resync);
      queue.stop();
      pipelines.shutdown();
      deployments.shutdown();
      services.shutdown();
      monitoring.shutdown();
      await queue.idle();
      await nats.close();
      auth.close();
      metrics.leader.set(0);
      synced = false;
    }
  };

  const done = (async () => {
    try {
      if (elector) {
        // Losing the lease ends this process's leadership; a new term starts only after a restart,
        // as client-go's leaderelection does (no stale caches carried across terms).
        await elector.run(signal, lead);
      } else {
        await lead(signal);
      }
    } finally {
      server.close();
      log.info('Controller stopped');
    }
  })();
  return { done, port, isLeader: () => elector?.isLeader() ?? true };
}
