import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { examples, outputOf } from './common.ts';

export function manifestsCommand(ctx: CliContext): Command {
  return new Command('manifests')
    .summary('print the CRD, RBAC and controller manifests (for GitOps)')
    .description(
      'Print, as one YAML stream, everything that installs dwk in a cluster: the Pipeline CRD,\nthe controller ServiceAccount, its least-privilege RBAC and its Deployment.',
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
        "dwk manifests -o json | jq -r '.items[].kind'",
      ),
    )
    .action(
      async (
        opts: { controllerNamespace: string; image?: string; replicas: string; output?: string },
        cmd: Command,
      ) => {
        const { stringify } = await import('yaml');
        const { pipelineCrd } = await import('../../api/v1alpha1/crd.ts');
        const { controllerManifests } = await import('../../controller/manifests.ts');
        const { parseOutputFormat, parseReplicas } = await import('../args.ts');
        const format = opts.output === undefined ? 'yaml' : parseOutputFormat(opts.output);
        const docs = [
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: opts.controllerNamespace } },
          pipelineCrd(),
          ...controllerManifests({
            namespace: opts.controllerNamespace,
            replicas: parseReplicas(opts.replicas),
            ...(opts.image ? { image: opts.image } : {}),
          }),
        ];
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
