/** Reads a Pipeline manifest from a file: YAML or JSON, validated, errors naming the field. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { Pipeline } from '../api/v1alpha1/pipeline.ts';
import { parsePipeline } from '../api/v1alpha1/validate.ts';
import { EXIT, UserError } from '../lib/errors.ts';

export async function loadManifest(file: string, cwd: string): Promise<Pipeline> {
  return (await loadManifestDocument(file, cwd)).pipeline;
}

/** The validated Pipeline and the document as written (what `dwk up` applies: no defaults added). */
export async function loadManifestDocument(
  file: string,
  cwd: string,
): Promise<{ pipeline: Pipeline; document: Record<string, unknown> }> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read it (${code ?? String(cause)})`,
      {
        exitCode: EXIT.invalidSpec,
        hint: 'pass the Pipeline manifest with -f, or leave -f out for the example',
        cause,
      },
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  const problem = doc.errors[0];
  if (problem) {
    throw new UserError(`${file}: not valid YAML: ${problem.message}`, {
      exitCode: EXIT.invalidSpec,
      cause: problem,
    });
  }
  const document = doc.toJS() as Record<string, unknown>;
  // Throws InvalidPipelineError, whose message lists every bad field.
  return { pipeline: parsePipeline(document, file), document };
}
