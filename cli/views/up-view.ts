/** The live view of `dwk up --local` on a terminal: finished event lines above a redrawn box. */
import { Box, Static, Text } from 'ink';
import React from 'react';
import { useStore, type Store } from '../hooks/use-store.ts';
import type { LocalStatus } from '../local/model.ts';
import { percent, rateText, replicasText, savedText } from './format.ts';

const h = React.createElement;

export interface EventLine {
  id: number;
  text: string;
  warn?: boolean;
}

export interface UpViewProps {
  status: LocalStatus | undefined;
  events: EventLine[];
  color: boolean;
  /** Columns of the terminal. */
  width: number;
}

export function progressBar(ratio: number, width: number): string {
  const w = Math.max(0, width);
  const full = Math.round(Math.min(1, Math.max(0, ratio)) * w);
  return '█'.repeat(full) + '░'.repeat(w - full);
}

function Body({ status, color, width }: { status: LocalStatus; color: boolean; width: number }) {
  const p = status.progress;
  const pct = p ? percent(p.chunksSaved + p.chunksDeadLettered, p.chunksTotal) : undefined;
  const rate = rateText(status);
  const paint = (c: string) => (color ? c : undefined);
  return h(
    Box,
    { flexDirection: 'column', borderStyle: 'round', paddingX: 1, width: Math.min(width, 100) },
    h(
      Text,
      { bold: true },
      `${status.pipeline} `,
      h(Text, { color: paint(status.phase === 'Complete' ? 'green' : 'cyan') }, status.phase.toLowerCase()),
    ),
    pct === undefined
      ? null
      : h(Text, { color: paint('green') }, progressBar(pct / 100, Math.max(10, Math.min(width, 100) - 6))),
    h(Text, null, savedText(status), p?.chunksDeadLettered ? ` · ${p.chunksDeadLettered} dead-lettered` : ''),
    rate ? h(Text, null, rate) : null,
    h(Text, null, replicasText(status)),
    status.nats.reachable
      ? h(Text, { dimColor: true }, `NATS ${status.nats.url} · data ${status.dataDir}`)
      : h(Text, { color: paint('red') }, `NATS unreachable: ${status.nats.error ?? ''}`),
  );
}

/** Pure: a function of its props. */
export function UpView({ status, events, color, width }: UpViewProps) {
  return h(
    Box,
    { flexDirection: 'column' },
    h(Static<EventLine>, {
      items: events,
      children: (e: EventLine) =>
        h(Text, { key: e.id, color: e.warn && color ? 'yellow' : undefined }, e.text),
    }),
    status ? h(Body, { status, color, width }) : h(Text, null, 'starting…'),
  );
}

export interface UpModel {
  status: LocalStatus | undefined;
  events: EventLine[];
}

export function UpApp({ store, color, width }: { store: Store<UpModel>; color: boolean; width: number }) {
  const { status, events } = useStore(store);
  return h(UpView, { status, events, color, width });
}
