/**
 * What installs the controller in a cluster: its ServiceAccount, least-privilege RBAC and
 * Deployment. Rendered by `dwk manifests` and applied by `dwk up`. No I/O.
 */
import { DEFAULT_IMAGE } from '../api/v1alpha1/pipeline.ts';

export const CONTROLLER_NAME = 'dwk-controller';

const labels = {
  'app.kubernetes.io/name': CONTROLLER_NAME,
  'app.kubernetes.io/part-of': 'dwk',
  'app.kubernetes.io/managed-by': 'dwk',
};

/**
 * Cluster-wide: exactly the verbs the controller's calls need, no more. No Secrets, no pods/exec.
 * Its writes are server-side apply (PATCH: verb patch, plus create when the object is new), merge
 * patches (patch) and deletes; it reads through list+watch informers, never get, except below.
 */
export const CLUSTER_RULES = [
  // Informer; the finalizer is added and removed with a merge patch.
  { apiGroups: ['dwk.dev'], resources: ['pipelines'], verbs: ['list', 'watch', 'patch'] },
  // Status is written by server-side apply on the subresource.
  { apiGroups: ['dwk.dev'], resources: ['pipelines/status'], verbs: ['patch'] },
  // Owned objects carry blockOwnerDeletion, which the OwnerReferencesPermissionEnforcement
  // admission plugin (on in some clusters) allows only to who may update the owner's finalizers.
  { apiGroups: ['dwk.dev'], resources: ['pipelines/finalizers'], verbs: ['update'] },
  // Informer, apply, and delete when a component leaves the spec.
  {
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
  },
  // Informer (a deleted or edited Service is put back), apply, delete.
  {
    apiGroups: [''],
    resources: ['services'],
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
  },
  // Recorded with POST, counted up with a merge patch.
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  // Its labels, for the Prometheus namespace selectors.
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
  // Informers, apply, and delete once stale (monitoring disabled, NATS outside the cluster).
  {
    apiGroups: ['monitoring.coreos.com'],
    resources: ['servicemonitors', 'podmonitors'],
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
  },
  // Informer: which Prometheus selects the monitors.
  { apiGroups: ['monitoring.coreos.com'], resources: ['prometheuses'], verbs: ['list', 'watch'] },
];

/** In its own namespace only: the leader-election Lease, renewed with a PUT (optimistic concurrency). */
export const LEASE_RULES = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

export interface ControllerManifestOptions {
  namespace: string;
  image?: string;
  replicas?: number;
}

export function controllerManifests(o: ControllerManifestOptions): Array<Record<string, unknown>> {
  const image = o.image ?? DEFAULT_IMAGE;
  const meta = (name: string, namespaced = true) => ({
    name,
    ...(namespaced ? { namespace: o.namespace } : {}),
    labels,
  });
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(CONTROLLER_NAME) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(CONTROLLER_NAME, false),
      rules: CLUSTER_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(CONTROLLER_NAME, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLER_NAME },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace: o.namespace }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(`${CONTROLLER_NAME}-leader`),
      rules: LEASE_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(`${CONTROLLER_NAME}-leader`),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${CONTROLLER_NAME}-leader` },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace: o.namespace }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(CONTROLLER_NAME),
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: { 'app.kubernetes.io/name': CONTROLLER_NAME } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: CONTROLLER_NAME,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 10001,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'controller',
                image,
                command: ['node', '/app/controller/main.ts'],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                ports: [{ name: 'metrics', containerPort: 8081 }],
                readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' } },
                livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10 },
                resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    },
  ];
}

/** The name of the Role that lets the controller read one Pipeline's NATS credentials. */
export const natsCredentialsRoleName = (pipeline: string) => `dwk-nats-credentials-${pipeline}`;

/**
 * Lets the controller read exactly the Secret that holds one Pipeline's NATS credentials (for
 * progress and cleanup), in that Pipeline's namespace: never Secrets in general.
 */
export function natsCredentialsAccess(o: {
  controllerNamespace: string;
  namespace: string;
  pipeline: string;
  secret: string;
}): Array<Record<string, unknown>> {
  const metadata = { name: natsCredentialsRoleName(o.pipeline), namespace: o.namespace, labels };
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata,
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [o.secret], verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace: o.controllerNamespace }],
    },
  ];
}
