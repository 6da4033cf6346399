/** The steps of `dwk up`/`dwk down` on a terminal: a spinner and elapsed time on the running one. Pure. */
import { Box, Text } from 'ink';
import React from 'react';
import { useStore, type Store } from '../hooks/use-store.ts';
import { formatDuration } from './format.ts';

const h = React.createElement;

export type StepState = 'running' | 'done' | 'failed';

export interface StepLine {
  id: number;
  title: string;
  state: StepState;
  detail?: string;
  elapsedMs: number;
}

export interface StepsModel {
  steps: StepLine[];
  /** Advances the spinner. */
  tick: number;
}

export const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export const elapsedText = (ms: number) =>
  ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(ms / 1000);

export function stepMark(state: StepState, tick: number): string {
  if (state === 'done') return '✓';
  if (state === 'failed') return '✗';
  return SPINNER[tick % SPINNER.length] ?? '-';
}

/** One line of a step, also the plain-text form. */
export function stepText(s: StepLine, tick: number): string {
  return `${stepMark(s.state, tick)} ${s.title}${s.detail ? `: ${s.detail}` : ''} (${elapsedText(s.elapsedMs)})`;
}

export function StepsView({ steps, tick, color }: StepsModel & { color: boolean }) {
  const colour = (s: StepState) =>
    !color ? undefined : s === 'done' ? 'green' : s === 'failed' ? 'red' : 'cyan';
  return h(
    Box,
    { flexDirection: 'column' },
    ...steps.map((s) =>
      h(
        Text,
        { key: s.id },
        h(Text, { color: colour(s.state) }, stepMark(s.state, tick)),
        ` ${s.title}${s.detail ? `: ${s.detail}` : ''} `,
        h(Text, { dimColor: true }, elapsedText(s.elapsedMs)),
      ),
    ),
  );
}

export function StepsApp({ store, color }: { store: Store<StepsModel>; color: boolean }) {
  return h(StepsView, { ...useStore(store), color });
}
