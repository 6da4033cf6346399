/** What `dwk up` puts in a cluster, as data: NATS through Helm, the CRD, the controller, the Pipeline. No I/O. */
import { API_VERSION, KIND } from '../../api/v1alpha1/pipeline.ts';
import { pipelineCrd } from '../../api/v1alpha1/crd.ts';
import { controllerManifests, natsCredentialsAccess } from '../../controller/manifests.ts';
import type { KubeObject } from '../../lib/kube/client.ts';
import type { HelmPlan } from './helm.ts';

export type ControllerMode = 'cluster' | 'local' | 'none';
export const CONTROLLER_MODES: readonly ControllerMode[] = ['cluster', 'local', 'none'];

export interface UpPlanInput {
  /** The Pipeline document as written. */
  document: Record<string, unknown>;
  namespace: string;
  /** Present when Helm installs NATS. */
  helm?: HelmPlan;
  /** --nats-url: an existing NATS. */
  natsUrl?: string;
  controller: ControllerMode;
  controllerNamespace: string;
  image?: string;
}

export interface UpPlan {
  helm?: HelmPlan;
  natsUrl: string | undefined;
  crd: KubeObject;
  /** Namespace, ServiceAccount, RBAC, Deployment; empty unless the controller runs in the cluster. */
  controller: KubeObject[];
  pipeline: KubeObject;
}

/** The NATS URL the workloads use for a release of the chart: its client Service. */
export const releaseUrl = (h: HelmPlan) => `nats://${h.release}.${h.namespace}.svc:4222`;

export function planUp(i: UpPlanInput): UpPlan {
  const spec = { ...((i.document.spec as Record<string, unknown> | undefined) ?? {}) };
  const nats = { ...((spec.nats as Record<string, unknown> | undefined) ?? {}) };
  // The flag wins; else a URL in the file stays; else the release dwk installs.
  const url = i.natsUrl ?? (nats.url as string | undefined) ?? (i.helm ? releaseUrl(i.helm) : undefined);
  if (url !== undefined) spec.nats = { ...nats, url };
  if (i.image !== undefined && spec.image === undefined) spec.image = i.image;
  const meta = (i.document.metadata as Record<string, unknown> | undefined) ?? {};
  const pipeline: KubeObject = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { ...meta, namespace: i.namespace },
    spec,
  };
  const secret = (nats.credentials as { secretRef?: { name?: unknown } } | undefined)?.secretRef?.name;
  const name = typeof meta.name === 'string' ? meta.name : undefined;
  const controller =
    i.controller === 'cluster'
      ? [
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: i.controllerNamespace } },
          ...controllerManifests({
            namespace: i.controllerNamespace,
            ...(i.image !== undefined ? { image: i.image } : {}),
          }),
          // The controller may read this Pipeline's NATS credentials, and no other Secret.
          ...(typeof secret === 'string' && name
            ? natsCredentialsAccess({
                controllerNamespace: i.controllerNamespace,
                namespace: i.namespace,
                pipeline: name,
                secret,
              })
            : []),
        ]
      : [];
  return {
    ...(i.helm ? { helm: i.helm } : {}),
    natsUrl: url,
    crd: pipelineCrd(),
    controller: controller,
    pipeline,
  };
}

/** Every object of the plan, in the order `dwk up` applies them. */
export const planObjects = (p: UpPlan): KubeObject[] => [p.crd, ...p.controller, p.pipeline];

export const describeObject = (o: KubeObject) =>
  `${o.kind ?? '?'} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'}`;
