// An adapter module in the shape the CLI loads: the fake data centre with its journals in plain files
// (written straight through, no power-cut cache) and the clock most hand-written harnesses have — due
// timers fire back to back inside one `advance`, and file I/O is waited for only once `advance` is done
// (the QEMU harness's pattern). Timers that start I/O at one instant then race on the disk, as they do
// on a real clock: what made S6.3 flaky on file-backed journals (issue 16).
import { createFakeHarness } from '@opencdp/adapter-fake';
import { FILE_IO_RESOURCES, settle } from '@opencdp/core';
import type { ConformanceHarness, HarnessFactory } from '@opencdp/core';

export const name = 'fake-file-journals';

/** Waits until no file request has been active for two event-loop turns in a row. */
async function fileIoSettled(): Promise<void> {
  for (let idle = 0; idle < 2;) {
    await settle();
    idle = process.getActiveResourcesInfo().some((r) => FILE_IO_RESOURCES.includes(r)) ? 0 : idle + 1;
  }
}

export const createHarness: HarnessFactory = async () => {
  const inner = await createFakeHarness({ seed: 1, recoveryStorage: 'files', powerCut: false, clock: 'plain' });
  const harness: ConformanceHarness = Object.create(inner) as ConformanceHarness;
  return Object.assign(harness, {
    async advance(ms: number): Promise<void> {
      await inner.clock.advance(ms);
      await fileIoSettled();
    },
  });
};
