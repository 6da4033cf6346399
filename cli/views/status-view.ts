/** The live `dwk status --local` on a terminal: the status table, redrawn every second. Pure view. */
import { Box, Text, useApp, useInput } from 'ink';
import React from 'react';
import { useStore, type Store } from '../hooks/use-store.ts';
import type { LocalStatus } from '../local/model.ts';
import { statusText } from './format.ts';

const h = React.createElement;

export interface StatusModel {
  status: LocalStatus | undefined;
  error: string | undefined;
}

export function StatusView({ status, error }: StatusModel) {
  return h(
    Box,
    { flexDirection: 'column' },
    status ? h(Text, null, statusText(status)) : h(Text, null, 'loading…'),
    error ? h(Text, { color: 'red' }, error) : null,
    h(Text, { dimColor: true }, 'q quits'),
  );
}

export function StatusApp({ store }: { store: Store<StatusModel> }) {
  const model = useStore(store);
  const app = useApp();
  useInput((input) => {
    if (input === 'q') app.exit();
  });
  return h(StatusView, model);
}
