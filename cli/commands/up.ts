import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { examples, outputOf } from './common.ts';
import { parseNatsUrl } from '../nats-url.ts';

export interface UpOptions {
  local?: boolean;
  file?: string;
  natsUrl?: string;
  dataDir?: string;
  exitWhenDone?: boolean;
  fresh?: boolean;
  prometheus?: boolean;
}

export interface ClusterUpOptions extends UpOptions {
  natsChart: string;
  natsRepo?: string;
  natsVersion?: string;
  natsValues?: string;
  natsRelease: string;
  controller: string;
  controllerNamespace: string;
  image?: string;
  dryRun?: boolean;
  timeout: string;
  wait: boolean;
}

export function upCommand(ctx: CliContext): Command {
  return new Command('up')
    .summary('run a pipeline: in the cluster, or on this machine with --local')
    .description(
      'Run a pipeline in the cluster of your kubeconfig: install or upgrade NATS with Helm (the\n' +
        'official chart with JetStream, monitoring and its Prometheus exporter), apply the Pipeline\n' +
        'CRD, install the controller, apply the Pipeline and wait until it is Ready. Running it\n' +
        'again changes nothing and says so. --dry-run prints every object and the helm command.\n' +
        'With --local: start nats-server and every component as processes on this machine, restart\n' +
        'any that die, and show progress until Ctrl-C (or until done with --exit-when-done).',
    )
    .option('--local', 'run on this machine, without a cluster')
    .option('-f, --file <pipeline.yaml>', 'Pipeline manifest (default: the bundled example)')
    .option(
      '--nats-url <url>',
      'use this NATS server: Helm is not used (local: none is started)',
      parseNatsUrl,
    )
    .option('--nats-chart <chart>', 'official, bitnami, a chart directory or .tgz, or oci://…', 'official')
    .option(
      '--nats-repo <url>',
      'repository of the official chart',
      'https://nats-io.github.io/k8s/helm/charts/',
    )
    .option('--nats-version <version>', 'chart version (default: the latest; pin it to upgrade on purpose)')
    .option('--nats-values <file>', 'more Helm values for NATS, merged over those of dwk')
    .option('--nats-release <name>', 'Helm release name of NATS', 'nats')
    .option('--controller <where>', 'cluster (a Deployment), local (in this process) or none', 'cluster')
    .option('--controller-namespace <namespace>', 'namespace of the controller', 'dwk-system')
    .option('--image <image>', 'image of the controller and workloads (default: this version’s)')
    .option('--dry-run', 'print every object and the helm command; change nothing')
    .option('--timeout <seconds>', 'give up after this long', '300')
    .option('--no-wait', 'do not wait for the Pipeline to be Ready')
    .option('--data-dir <dir>', 'local: state, logs and sink of the run (default: .dwk/<pipeline>)')
    .option('--exit-when-done', 'local: exit 0 once every chunk is saved or dead-lettered')
    .option('--fresh', 'local: delete the data of an earlier run of this pipeline first')
    .option('--prometheus', 'local: also run Prometheus and the NATS exporter on loopback; prints its URL')
    .addHelpText(
      'after',
      examples(
        'dwk up',
        'dwk up -f my-pipeline.yaml -n team --nats-chart bitnami',
        'dwk up --nats-url nats://nats.shared:4222 --controller local',
        'dwk up --dry-run > everything.yaml',
        'dwk up --local -f my-pipeline.yaml --exit-when-done',
        'dwk up --local --nats-url nats://127.0.0.1:4222 --fresh',
      ),
    )
    .action(async (opts: ClusterUpOptions, cmd: Command) => {
      if (opts.local) {
        const { upLocal } = await import('../local/up.ts');
        await upLocal(opts, ctx, outputOf(cmd, ctx));
        return;
      }
      const { upInCluster } = await import('../cluster/up-command.ts');
      await upInCluster(opts, cmd.optsWithGlobals(), ctx, outputOf(cmd, ctx));
    });
}
