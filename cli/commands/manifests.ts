import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { examples, outputOf } from './common.ts';

export function manifestsCommand(ctx: CliContext): Command {
  return new Command('manifests')
    .summary('print the CRD, RBAC and controller manifests (for GitOps)')
    .description(
      'Print, as one YAML stream, everything that installs dwk in a cluster: the Pipeline CRD,\n' +
        'the controller ServiceAccount, its least-privilege RBAC and its Deployment.\n' +
        'With -f, also each Pipeline (validated) and, when it names NATS credentials, the Role that\n' +
        'lets the controller read exactly that Secret: what `dwk up` would apply, for GitOps.',
    )
    .option(
      '-f, --file <pipeline.yaml>',
      'also a Pipeline and the access it needs (repeat for more)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--controller-namespace <namespace>', 'where the controller runs', 'dwk-system')
    .option('--image <image>', 'controller image (default: the image of this dwk version)')
    .option('--replicas <n>', 'controller replicas (leader election makes one active)', '2')
    .option('-o, --output <format>', 'yaml (one stream, the default) or json (a v1 List)')
    .addHelpText(
      'after',
      examples(
        'dwk manifests | kubectl apply --server-side -f -',
        'dwk manifests --controller-namespace ops > dwk.yaml',
        'dwk manifests -f pipeline.yaml -n demo > dwk-and-pipeline.yaml',
        "dwk manifests -o json | jq -r '.items[].kind'",
      ),
    )
    .action(
      async (
        opts: {
          controllerNamespace: string;
          image?: string;
          replicas: string;
          output?: string;
          file?: string[];
        },
        cmd: Command,
      ) => {
        const { stringify } = await import('yaml');
        const { pipelineCrd } = await import('../../api/v1alpha1/crd.ts');
        const { controllerManifests, natsCredentialsRoleName } =
          await import('../../controller/manifests.ts');
        const { parseOutputFormat, parseReplicas } = await import('../args.ts');
        const { loadManifestDocument } = await import('../manifest.ts');
        const { planUp } = await import('../cluster/up-plan.ts');
        const format = opts.output === undefined ? 'yaml' : parseOutputFormat(opts.output);
        const docs: Array<Record<string, unknown>> = [
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: opts.controllerNamespace } },
          pipelineCrd(),
          ...controllerManifests({
            namespace: opts.controllerNamespace,
            replicas: parseReplicas(opts.replicas),
            ...(opts.image ? { image: opts.image } : {}),
          }),
        ];
        // -n (global) places the -f Pipelines; else their own metadata.namespace, as kubectl does.
        const { namespace } = cmd.optsWithGlobals<{ namespace?: string }>();
        for (const file of opts.file ?? []) {
          const { document } = await loadManifestDocument(file, ctx.cwd);
          const own = (document.metadata as { namespace?: unknown } | undefined)?.namespace;
          // The same plan as `dwk up --controller cluster`, minus what it already printed above.
          const plan = planUp({
            document,
            namespace: namespace ?? (typeof own === 'string' ? own : 'default'),
            controller: 'cluster',
            controllerNamespace: opts.controllerNamespace,
            ...(opts.image !== undefined ? { image: opts.image } : {}),
          });
          const access = plan.controller.filter(
            (o) => o.metadata?.name === natsCredentialsRoleName(plan.pipeline.metadata?.name ?? ''),
          );
          docs.push(...(access as Array<Record<string, unknown>>), plan.pipeline);
        }
        if (format === 'json') {
          outputOf(cmd, ctx).print(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }, null, 2));
          return;
        }
        outputOf(cmd, ctx).print(
          docs
            .map((d) => stringify(d, { lineWidth: 0 }))
            .join('---\n')
            .trimEnd(),
        );
      },
    );
}
