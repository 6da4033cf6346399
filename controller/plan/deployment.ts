/** The Deployment of one component, as the controller applies it. No I/O. */
import type {
  V1Deployment,
  V1EnvVar,
  V1ResourceRequirements,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { desiredReplicas, type Component, type PipelineSpec } from '../../api/v1alpha1/pipeline.ts';
import { ENV, workloadEnv } from '../../workloads/env.ts';
import {
  componentLabels,
  METRICS_PORT,
  METRICS_PORT_NAME,
  objectName,
  ownerReference,
  selectorLabels,
  type PipelineRef,
} from './labels.ts';

/** Where a jsonl sink writes inside the container (an emptyDir unless people mount more). */
export const DATA_DIR = '/data';

/** Where the `creds` key of the NATS credentials Secret appears in the container, when it has one. */
export const NATS_CREDS_DIR = '/var/run/secrets/dwk.dev/nats';
export const NATS_CREDS_FILE = `${NATS_CREDS_DIR}/nats.creds`;
const NATS_CREDS_VOLUME = 'nats-credentials';

function credentialEnv(spec: PipelineSpec): V1EnvVar[] {
  const ref = spec.nats.credentials?.secretRef;
  if (!ref) return [];
  // Each key is optional: the Secret holds user/password, or token, or creds.
  const key = (name: string, key: string): V1EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: ref.name, key, optional: true } },
  });
  return [
    key(ENV.natsUser, 'user'),
    key(ENV.natsPassword, 'password'),
    key(ENV.natsToken, 'token'),
    // A creds file is read from disk by the NATS client: a path, the file being absent without the key.
    { name: ENV.natsCredsFile, value: NATS_CREDS_FILE },
  ];
}

/**
 * The Secret's `creds` key as a read-only file. Optional: without the key (or the Secret) the
 * file is absent and the workloads connect without creds. Only the reference is in the Deployment.
 */
function credentialVolume(spec: PipelineSpec): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const ref = spec.nats.credentials?.secretRef;
  if (!ref) return { volumes: [], mounts: [] };
  return {
    volumes: [
      {
        name: NATS_CREDS_VOLUME,
        secret: {
          secretName: ref.name,
          optional: true,
          items: [{ key: 'creds', path: 'nats.creds' }],
          // Readable by the Pod's fsGroup (the workload's group), by nobody else.
          defaultMode: 0o440,
        },
      },
    ],
    mounts: [{ name: NATS_CREDS_VOLUME, mountPath: NATS_CREDS_DIR, readOnly: true }],
  };
}

function env(p: PipelineRef, spec: PipelineSpec, component: Component): V1EnvVar[] {
  const plain = workloadEnv(p.name, spec, component);
  if (component === 'saver' && spec.saver.sink.type === 'jsonl') {
    const path = plain[ENV.sinkPath] ?? 'results.jsonl';
    plain[ENV.sinkPath] = path.startsWith('/') ? path : `${DATA_DIR}/${path}`;
  }
  const vars: V1EnvVar[] = Object.entries(plain)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
  vars.push(
    { name: ENV.instance, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: ENV.httpPort, value: String(METRICS_PORT) },
    ...credentialEnv(spec),
  );
  const target = spec.broadcaster?.target.urlFrom?.secretKeyRef;
  if (component === 'broadcaster' && target) {
    // Only a reference: the URL or token itself never leaves its Secret.
    vars.push({ name: ENV.targetUrl, valueFrom: { secretKeyRef: { name: target.name, key: target.key } } });
  }
  return vars;
}

function resourcesOf(spec: PipelineSpec, component: Component): V1ResourceRequirements {
  const r = component === 'broadcaster' ? spec.broadcaster?.resources : spec[component].resources;
  if (!r) return { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } };
  // Quantities may be written as numbers (int-or-string); the API takes them as strings too.
  const strings = (q: Record<string, string | number> | undefined) =>
    q && Object.fromEntries(Object.entries(q).map(([k, v]) => [k, String(v)]));
  return {
    ...(r.requests ? { requests: strings(r.requests) } : {}),
    ...(r.limits ? { limits: strings(r.limits) } : {}),
  };
}

export function deploymentFor(p: PipelineRef, spec: PipelineSpec, component: Component): V1Deployment {
  const labels = componentLabels(p.name, component);
  const credentials = credentialVolume(spec);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: objectName(p.name, component),
      namespace: p.namespace,
      labels,
      ownerReferences: [ownerReference(p)],
    },
    spec: {
      replicas: desiredReplicas(spec, component),
      selector: { matchLabels: selectorLabels(p.name, component) },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          // Pod Security Standard "restricted": non-root, no escalation, no capabilities, RuntimeDefault seccomp.
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            fsGroup: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          terminationGracePeriodSeconds: 15,
          containers: [
            {
              name: component,
              image: spec.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['node', '/app/workloads/main.ts'],
              workingDir: DATA_DIR,
              env: env(p, spec, component),
              ports: [{ name: METRICS_PORT_NAME, containerPort: METRICS_PORT, protocol: 'TCP' }],
              readinessProbe: {
                httpGet: { path: '/readyz', port: METRICS_PORT_NAME },
                periodSeconds: 5,
                failureThreshold: 3,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', port: METRICS_PORT_NAME },
                periodSeconds: 10,
                failureThreshold: 6,
              },
              resources: resourcesOf(spec, component),
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [
                { name: 'data', mountPath: DATA_DIR },
                { name: 'tmp', mountPath: '/tmp' },
                ...credentials.mounts,
              ],
            },
          ],
          volumes: [{ name: 'data', emptyDir: {} }, { name: 'tmp', emptyDir: {} }, ...credentials.volumes],
        },
      },
    },
  };
}
