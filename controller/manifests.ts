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

/** Cluster-wide: only what reconciling Pipelines in any namespace needs. No Secrets, no pods/exec. */
export const CLUSTER_RULES = [
  { apiGroups: ['dwk.dev'], resources: ['pipelines'], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
  { apiGroups: ['dwk.dev'], resources: ['pipelines/status'], verbs: ['get', 'patch', 'update'] },
  { apiGroups: ['dwk.dev'], resources: ['pipelines/finalizers'], verbs: ['update'] },
  {
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'],
  },
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'create', 'patch', 'update', 'delete'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
  {
    apiGroups: ['monitoring.coreos.com'],
    resources: ['servicemonitors', 'podmonitors'],
    verbs: ['get', 'create', 'patch', 'update', 'delete'],
  },
  { apiGroups: ['monitoring.coreos.com'], resources: ['prometheuses'], verbs: ['get', 'list'] },
];

/** In its own namespace only: the leader-election Lease. */
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
