/**
 * `dwk logs` in a cluster: the component's Pods by the labels the controller sets, each Pod's log
 * through the Pod log API, in time order and prefixed by the Pod; with -f, new Pods as they come.
 * A Pod whose log cannot be read (a node without a kubelet, a container not started) is named
 * with the reason, and the others are still shown.
 */
import type { Component } from '../../api/v1alpha1/pipeline.ts';
import { selectorLabels, selectorString } from '../../controller/plan/labels.ts';
import { EXIT, UnavailableError, UserError } from '../../lib/errors.ts';
import {
  KubeApiError,
  pathOf,
  type KubeClient,
  type KubeObject,
  type WatchEvent,
} from '../../lib/kube/client.ts';
import { connectCluster, type ClusterFlags } from '../cluster/connect.ts';
import { findPipeline } from '../cluster/pipelines.ts';
import type { CliContext } from '../context.ts';
import type { Output } from '../output.ts';
import { liveLines, pause, untilStopped, type LiveLines } from './follow.ts';
import {
  LinePrinter,
  componentWord,
  mergeByTime,
  pinoTime,
  splitKubeletTimestamp,
  type LogLine,
  type LogsRequest,
} from './lines.ts';

/** How long one Pod's log may take to start answering without -f. */
const READ_TIMEOUT_MS = 20_000;
/** Pods read at once without -f. */
const PARALLEL = 8;

const COMPONENT_LABEL = 'app.kubernetes.io/name';
const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

interface ContainerStatus {
  name: string;
  containerID?: string;
  restartCount?: number;
  state?: { running?: object; waiting?: { reason?: string; message?: string }; terminated?: object };
}

export type Pod = KubeObject & {
  spec?: { nodeName?: string };
  status?: { phase?: string; containerStatuses?: ContainerStatus[] };
};

type Node = KubeObject & { status?: { daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } } };

/** The label selector of the Pods of `components` of a Pipeline: the controller's own labels. */
export function podSelector(pipeline: string, components: readonly Component[]): string {
  const [first] = components;
  if (first === undefined) throw new Error('podSelector needs a component');
  if (components.length === 1) return selectorString(selectorLabels(pipeline, first));
  return Object.entries(selectorLabels(pipeline, first))
    .map(([k, v]) => (k === COMPONENT_LABEL ? `${k} in (${components.join(',')})` : `${k}=${v}`))
    .join(',');
}

const podName = (p: Pod) => p.metadata?.name ?? '';
const containerOf = (p: Pod) => p.metadata?.labels?.[COMPONENT_LABEL] ?? '';
const statusOf = (p: Pod) => p.status?.containerStatuses?.find((c) => c.name === containerOf(p));

/** The query of the Pod log API; kubelet timestamps always, to put Pods in time order. */
export function logQuery(
  container: string,
  options: { follow: boolean; sinceMs?: number | undefined; tail?: number | undefined },
): string {
  const q = new URLSearchParams({ container, timestamps: 'true' });
  if (options.follow) q.set('follow', 'true');
  if (options.sinceMs !== undefined)
    q.set('sinceSeconds', String(Math.max(1, Math.ceil(options.sinceMs / 1000))));
  if (options.tail !== undefined) q.set('tailLines', String(options.tail));
  return q.toString();
}

/** A line of the log API as a LogLine: the workload's own time, else the kubelet's. */
export function podLine(pod: string, raw: string): LogLine {
  const { time, text } = splitKubeletTimestamp(raw);
  return { source: pod, text, time: pinoTime(text) ?? time };
}

/** What the API server said, without the `GET /api/v1/…: 404 ` in front. */
const serverWords = (err: KubeApiError) => err.message.replace(/^[A-Z]+ \S+: \d+ /, '');

/**
 * Whether the node is why: it has no kubelet endpoint (the API server then answers 404 for
 * pods/log), its kubelet cannot be reached (5xx), or it has no log of the container (a KWOK
 * node serving logs only for what it was given answers 400 "no logs found").
 */
function nodeSide(err: unknown): err is KubeApiError {
  if (!(err instanceof KubeApiError)) return false;
  const words = serverWords(err);
  return (
    err.status >= 500 ||
    (err.status === 404 && words.includes('pods/log')) ||
    (err.status === 400 && /^no logs found/.test(words))
  );
}

/**
 * Why a Pod's log could not be read, in words: a node that serves no logs (a KWOK fake node, an
 * unreachable kubelet), a container not started yet, a Pod or node that is gone, a missing permission.
 */
export function unavailableReason(
  err: unknown,
  pod: { name: string; node: string | undefined },
  nodeNote?: string,
): string {
  const node = pod.node ?? '(none)';
  if (nodeSide(err)) {
    return `the node ${node} serves no logs (${nodeNote ? `${nodeNote}; ` : ''}the API server said: ${serverWords(err)})`;
  }
  if (err instanceof KubeApiError) {
    const words = serverWords(err);
    const gone = /^pods "([^"]+)" not found/.exec(words);
    if (err.status === 404 && gone) {
      return gone[1] === pod.name ? 'the Pod is gone' : `its node ${gone[1]} is gone (${words})`;
    }
    if (err.status === 400 && /waiting to start|ContainerCreating|PodInitializing/.test(words)) {
      return `the container has not started yet (${words})`;
    }
    if (err.status === 403) return `not allowed to read Pod logs (${words})`;
    return words;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/timed out/.test(message)) return `the node ${node} did not answer (${message})`;
  return message;
}

/** A word on a node that serves no logs, when dwk may read the Node: a KWOK fake node, or no kubelet port. */
async function describeNode(client: KubeClient, node: string): Promise<string | undefined> {
  try {
    const n = await client.get<Node>({ apiVersion: 'v1', kind: 'Node', name: node });
    if (n.metadata?.annotations?.[KWOK_NODE_ANNOTATION] !== undefined) {
      return 'a KWOK fake node, which runs no containers';
    }
    if (!n.status?.daemonEndpoints?.kubeletEndpoint?.Port) return 'it reports no kubelet port';
  } catch {
    // Nodes are cluster-wide: many people may not read them, and the API's words must do.
  }
  return undefined;
}

/** Reads why a Pod's log is unavailable, with a word on its node when that is the cause. */
function explainer(client: KubeClient) {
  const notes = new Map<string, Promise<string | undefined>>();
  return async (err: unknown, pod: Pod): Promise<string> => {
    const node = pod.spec?.nodeName;
    let note: string | undefined;
    if (nodeSide(err) && node !== undefined) {
      if (!notes.has(node)) notes.set(node, describeNode(client, node));
      note = await notes.get(node);
    }
    return unavailableReason(err, { name: podName(pod), node }, note);
  };
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function logsCluster(
  req: LogsRequest,
  flags: ClusterFlags,
  ctx: CliContext,
  out: Output,
): Promise<void> {
  const cluster = connectCluster(flags, ctx.config.env);
  const pipeline = await findPipeline(cluster, req.pipeline);
  const name = pipeline.metadata?.name ?? '';
  if (req.components.length === 1 && req.components[0] === 'broadcaster' && !pipeline.spec.broadcaster) {
    throw new UserError(`Pipeline ${name} has no broadcaster`, {
      exitCode: EXIT.failure,
      hint: 'add spec.broadcaster to the Pipeline first',
    });
  }
  const podRef = { apiVersion: 'v1', kind: 'Pod', namespace: cluster.namespace };
  const selector = podSelector(name, req.components);
  const list = await cluster.client.list<Pod>(podRef, selector);
  const pods = list.items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) => podName(a).localeCompare(podName(b)));
  const word = componentWord(req.components);
  const what = word === undefined ? 'Pods' : `${word} Pods`;
  if (pods.length === 0 && !req.follow) {
    throw new UserError(`no ${what} of Pipeline ${name} in namespace ${cluster.namespace}`, {
      exitCode: EXIT.failure,
      hint: `see its replicas with \`dwk status ${name} -n ${cluster.namespace}\`; \`dwk logs -f\` waits for Pods`,
    });
  }
  const printer = new LinePrinter(
    req.mode,
    { color: out.color && out.interactive, timestamps: req.timestamps },
    pods.map(podName),
  );
  const explain = explainer(cluster.client);
  if (!req.follow) {
    const results = await mapLimit(pods, PARALLEL, async (pod): Promise<LogLine[] | undefined> => {
      const lines: LogLine[] = [];
      try {
        if (!pod.spec?.nodeName) throw new Error('not scheduled to a node yet');
        const path = `${pathOf({ ...podRef, name: podName(pod) }, 'log')}?${logQuery(containerOf(pod), { follow: false, sinceMs: req.sinceMs, tail: req.tail })}`;
        await cluster.client.streamLines(
          path,
          (l) => lines.push(podLine(podName(pod), l)),
          new AbortController().signal,
          READ_TIMEOUT_MS,
        );
        return lines;
      } catch (err) {
        out.warn(`${podName(pod)}: logs unavailable: ${await explain(err, pod)}`);
        return undefined;
      }
    });
    const read = results.filter((r): r is LogLine[] => r !== undefined);
    for (const line of mergeByTime(read)) out.print(printer.render(line));
    if (read.length === 0) {
      throw new UnavailableError(
        'pod logs',
        pods.length === 1
          ? `the log of the only ${word === undefined ? 'Pod' : `${word} Pod`} of ${name} could not be read`
          : `none of the logs of the ${pods.length} ${what} of ${name} could be read`,
      );
    }
    return;
  }

  if (pods.length === 0)
    out.info(`no ${what} of ${name} in namespace ${cluster.namespace} yet; waiting (Ctrl-C stops)`);
  const live = liveLines(printer, out);
  await untilStopped(ctx, async (signal) => {
    const follower = new PodFollower({
      client: cluster.client,
      podRef,
      req,
      live,
      out,
      signal,
      explain,
    });
    try {
      await follower.run(pods, list.metadata.resourceVersion ?? '', selector);
    } finally {
      live.close();
    }
  });
}

interface FollowerOptions {
  client: KubeClient;
  podRef: { apiVersion: string; kind: string; namespace: string };
  req: LogsRequest;
  live: LiveLines;
  out: Output;
  signal: AbortSignal;
  explain: (err: unknown, pod: Pod) => Promise<string>;
}

/** Follows every Pod of the selector: the ones listed at the start, and each new one the watch reports. */
class PodFollower {
  readonly #o: FollowerOptions;
  /** Per Pod, the container whose log was asked for (its id), so a restarted container is read again. */
  readonly #streamed = new Map<string, string>();
  #initial = new Set<string>();

  constructor(options: FollowerOptions) {
    this.#o = options;
  }

  async run(pods: Pod[], resourceVersion: string, selector: string): Promise<void> {
    this.#initial = new Set(pods.map(podName));
    for (const p of pods) this.#consider(p);
    let rv = resourceVersion;
    const { client, podRef, signal, out } = this.#o;
    while (!signal.aborted) {
      let relist = false;
      try {
        await client.watch<Pod>(
          podRef,
          rv,
          (e: WatchEvent<Pod>) => {
            if (e.type === 'ERROR') {
              relist = true;
              return;
            }
            rv = e.object.metadata?.resourceVersion ?? rv;
            if (e.type === 'BOOKMARK') return;
            if (e.type === 'DELETED') {
              if (this.#streamed.delete(podName(e.object))) out.info(`- ${podName(e.object)}`);
              return;
            }
            this.#consider(e.object);
          },
          signal,
          { labelSelector: selector },
        );
      } catch (err) {
        if (signal.aborted) return;
        out.debug(`watching Pods: ${(err as Error).message}; again in 1 s`);
        relist = true;
        await pause(1000, signal);
      }
      if (relist && !signal.aborted) {
        try {
          const list = await client.list<Pod>(podRef, selector);
          rv = list.metadata.resourceVersion ?? rv;
          for (const p of list.items) this.#consider(p);
        } catch (err) {
          out.debug(`listing Pods: ${(err as Error).message}`);
        }
      }
    }
  }

  /** Starts reading a Pod's log once its container has started, once per container. */
  #consider(pod: Pod): void {
    const name = podName(pod);
    if (pod.metadata?.deletionTimestamp || !pod.spec?.nodeName) return;
    const cs = statusOf(pod);
    if (!cs?.state?.running && !cs?.state?.terminated) return;
    const key = cs.containerID ?? `restart ${cs.restartCount ?? 0}`;
    const before = this.#streamed.get(name);
    if (before === key) return;
    this.#streamed.set(name, key);
    // --since and --tail are for what was there when dwk logs started; later Pods and restarted
    // containers are new, every line of them.
    const fresh = before !== undefined || !this.#initial.has(name);
    if (fresh) this.#o.out.info(`+ ${name}`);
    void this.#stream(pod, key, fresh);
  }

  async #stream(pod: Pod, key: string, fresh: boolean): Promise<void> {
    const { client, podRef, req, live, signal } = this.#o;
    const name = podName(pod);
    const query = logQuery(containerOf(pod), {
      follow: true,
      sinceMs: fresh ? undefined : req.sinceMs,
      tail: fresh ? undefined : req.tail,
    });
    try {
      await client.streamLines(
        `${pathOf({ ...podRef, name }, 'log')}?${query}`,
        (l) => live.push(podLine(name, l)),
        signal,
        0,
      );
    } catch (err) {
      if (signal.aborted) return;
      const reason = await this.#o.explain(err, pod);
      this.#o.out.warn(`${name}: logs unavailable: ${reason}`);
      // A container between states is worth another try at the next change of the Pod.
      if (
        err instanceof KubeApiError &&
        err.status === 400 &&
        !nodeSide(err) &&
        this.#streamed.get(name) === key
      ) {
        this.#streamed.delete(name);
      }
    }
  }
}
