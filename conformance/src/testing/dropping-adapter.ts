// An adapter module in the shape the CLI loads (`--adapter <path>`), broken on purpose: the fake
// adapter with a splitter that loses every 50th write. The suite must fail it.
import { createFakeHarness } from '@opencdp/adapter-fake';
import type { HarnessFactory } from '@opencdp/core';
import { dropEveryNthWrite } from './broken-harness.js';

export const name = 'fake-dropping-every-50th-write';

export const createHarness: HarnessFactory = dropEveryNthWrite(() => createFakeHarness({ seed: 1 }), 50);
