// Removing a QEMU block export: `block-export-del` returns before the export is gone (it waits for its
// clients), so callers that delete the node below it next wait for BLOCK_EXPORT_DELETED first.
import type { QmpClient } from './qmp-client.js';

/** Removes an export (hard: its clients are dropped) and waits until QEMU says it is gone; absent is fine. */
export async function deleteExport(qmp: QmpClient, id: string): Promise<void> {
  const deleted = qmp.waitForEvent('BLOCK_EXPORT_DELETED', (e) => e.data?.id === id, 5000).catch(() => undefined);
  if (await qmp.execute('block-export-del', { id, mode: 'hard' }).then(() => true, () => false)) await deleted;
}
