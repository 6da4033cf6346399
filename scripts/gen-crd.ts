// Writes crds/pipeline.yaml from the Pipeline schema (the one source of truth).
import { writeFileSync } from 'node:fs';
import { renderCrdYaml } from '../api/v1alpha1/crd-yaml.ts';

const target = new URL('../crds/pipeline.yaml', import.meta.url);
writeFileSync(target, renderCrdYaml());
console.log(`wrote ${target.pathname}`);
