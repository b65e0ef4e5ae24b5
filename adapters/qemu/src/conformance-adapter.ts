// What `opencdp-conformance --adapter qemu` loads: the adapter's name and a harness factory. The capture
// mode comes from the suite (`--capture`), the kernel's clock from OPENCDP_QEMU_CLOCK (`virtual`, the
// default, or `real`), where journals live from OPENCDP_QEMU_JOURNALS (`memory`, the default, or `files`).
import type { HarnessFactory } from '@opencdp/core';
import { createQemuHarness } from './qemu-harness.js';

export const name = 'qemu';

export const createHarness: HarnessFactory = (options) => createQemuHarness({
  ...(options?.capture ? { capture: options.capture } : {}),
  clock: process.env.OPENCDP_QEMU_CLOCK === 'real' ? 'real' : 'virtual',
  journalStorage: process.env.OPENCDP_QEMU_JOURNALS === 'files' ? 'files' : 'memory',
});
