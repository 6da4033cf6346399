/** `dwk down` in a cluster: deletes the Pipeline (its Deployments follow), and the NATS release with --purge-nats. */
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION, GROUP, KIND, PLURAL } from '../../api/v1alpha1/pipeline.ts';
import { EXIT, UserError } from '../../lib/errors.ts';
import type { Output } from '../output.ts';
import type { Cluster } from './connect.ts';
import { Helm } from './helm.ts';
import { findPipeline } from './pipelines.ts';
import { CONTROLLER_NAME, controllerManifests, natsCredentialsRoleName } from '../../controller/manifests.ts';
import { isNotFound, type KubeObject } from '../../lib/kube/client.ts';

export interface DownRequest {
  pipeline: string | undefined;
  purgeNats: boolean;
  natsRelease: string;
  timeoutSeconds: number;
  /** Also remove the controller, its RBAC and the CRD: only when no other Pipeline is left. */
  uninstall?: { controllerNamespace: string };
}

type Listed = { items: KubeObject[] };

const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Pipelines in every namespace other than `except`; none when the CRD is not installed. */
async function otherPipelines(cluster: Cluster, except: { namespace: string; name: string | undefined }) {
  let list: Listed;
  try {
    list = await cluster.client.request<Listed>('GET', `/apis/${API_VERSION}/${PLURAL}`);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  return list.items
    .map((p) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`)
    .filter((id) => id !== `${except.namespace}/${except.name ?? ''}`);
}

/** The controller's objects, newest dependency first, then the CRD; says what it deleted. */
async function uninstallDwk(cluster: Cluster, controllerNamespace: string, out: Output): Promise<void> {
  const deleted: string[] = [];
  const objects = controllerManifests({ namespace: controllerNamespace }).reverse();
  for (const o of objects) {
    const meta = o.metadata as { name: string; namespace?: string };
    const ref = {
      apiVersion: String(o.apiVersion),
      kind: String(o.kind),
      name: meta.name,
      namespace: meta.namespace,
    };
    if (await cluster.client.delete(ref))
      deleted.push(`${ref.kind} ${meta.namespace ? `${meta.namespace}/` : ''}${meta.name}`);
  }
  const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: CRD_NAME };
  if (await cluster.client.delete(crd)) deleted.push(`CustomResourceDefinition ${CRD_NAME}`);
  // The namespace goes too when nothing but the controller lived there.
  const ns = { apiVersion: 'v1', kind: 'Namespace', name: controllerNamespace };
  const nsObj = await cluster.client.getOrUndefined<KubeObject & { status?: { phase?: string } }>(ns);
  const left = await cluster.client
    .request<Listed>('GET', `/api/v1/namespaces/${encodeURIComponent(controllerNamespace)}/pods`)
    .catch(() => undefined);
  const foreign = (left?.items ?? []).filter(
    (p) => p.metadata?.labels?.['app.kubernetes.io/name'] !== CONTROLLER_NAME,
  );
  if (
    left &&
    nsObj?.status?.phase === 'Active' &&
    foreign.length === 0 &&
    controllerNamespace !== cluster.namespace &&
    (await cluster.client.delete(ns))
  ) {
    deleted.push(`Namespace ${controllerNamespace}`);
  }
  out.print(
    deleted.length > 0
      ? `uninstalled dwk: deleted ${deleted.join(', ')}`
      : 'dwk is not installed in this cluster; nothing to uninstall',
  );
}

export interface DownEnv {
  helm: string | undefined;
  childEnv: Record<string, string>;
  context: string | undefined;
}

export async function downCluster(
  req: DownRequest,
  cluster: Cluster,
  env: DownEnv,
  out: Output,
): Promise<void> {
  // helm is needed for the purge: say so before anything is deleted.
  const helm = req.purgeNats
    ? new Helm(env.helm, env.childEnv, {
        kubeconfig: cluster.kubeconfigPath,
        ...(env.context ? { context: env.context } : {}),
      })
    : undefined;
  const deadline = Date.now() + req.timeoutSeconds * 1000;
  let name: string | undefined;
  try {
    name = (await findPipeline(cluster, req.pipeline)).metadata?.name;
  } catch (err) {
    // Nothing to delete is not a failure of down, as with kubectl delete --ignore-not-found.
    if (isNotFound(err)) out.info('the Pipeline CRD is not installed in this cluster; no Pipeline to delete');
    else if (err instanceof UserError && /^no Pipeline/.test(err.message))
      out.info(`${err.message}; nothing to delete`);
    else throw err;
  }
  if (req.uninstall) {
    // Checked before anything is deleted: removing the CRD would delete the other Pipelines too.
    const others = await otherPipelines(cluster, { namespace: cluster.namespace, name });
    if (others.length > 0) {
      throw new UserError(
        `--uninstall would remove the controller and the CRD that ${others.length} other Pipeline${others.length === 1 ? '' : 's'} still use${others.length === 1 ? 's' : ''}: ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', …' : ''}`,
        {
          hint: 'remove them first (dwk down NAME -n NAMESPACE), or leave out --uninstall; nothing was changed',
        },
      );
    }
  }
  if (name) {
    const ref = { apiVersion: API_VERSION, kind: KIND, namespace: cluster.namespace, name };
    await cluster.client.delete(ref);
    // A finalizer may clean NATS first (deletePolicy: delete): wait until it is gone.
    while (await cluster.client.getOrUndefined(ref)) {
      if (Date.now() > deadline) {
        throw new UserError(`Pipeline ${name} is still being deleted after ${req.timeoutSeconds} s`, {
          exitCode: EXIT.timeout,
          hint: `see its finalizers: kubectl get pipeline ${name} -n ${cluster.namespace} -o yaml`,
        });
      }
      await sleep(300);
    }
    out.print(`deleted Pipeline ${name} (namespace ${cluster.namespace}) and its Deployments and Services`);
    // What dwk up granted the controller for this Pipeline's NATS credentials goes with it.
    const role = natsCredentialsRoleName(name);
    const rbac = 'rbac.authorization.k8s.io/v1';
    const gone = await Promise.all(
      ['RoleBinding', 'Role'].map((kind) =>
        cluster.client.delete({ apiVersion: rbac, kind, namespace: cluster.namespace, name: role }),
      ),
    );
    if (gone.some(Boolean)) out.print(`deleted Role and RoleBinding ${role} (its NATS credentials access)`);
  }
  if (helm) await purgeNats(helm, req, cluster, deadline, out);
  if (req.uninstall) await uninstallDwk(cluster, req.uninstall.controllerNamespace, out);
}

async function purgeNats(helm: Helm, req: DownRequest, cluster: Cluster, deadline: number, out: Output) {
  const release = await helm.release(req.natsRelease, cluster.namespace);
  if (!release) {
    out.info(`no Helm release ${req.natsRelease} in namespace ${cluster.namespace}; nothing to uninstall`);
    return;
  }
  await helm.uninstall(
    req.natsRelease,
    cluster.namespace,
    Math.max(1, Math.round((deadline - Date.now()) / 1000)),
  );
  out.print(`uninstalled Helm release ${req.natsRelease} (namespace ${cluster.namespace})`);
}
