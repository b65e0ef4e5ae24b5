// The Hyper-V recovery limits follow `recoveryVm`: generation 2 is UEFI on synthetic SCSI, generation 1
// BIOS booting from IDE; a configured logical sector size is the only one offered.
import assert from 'node:assert/strict';
import { hypervLimits } from './hyperv-hypervisor.js';

describe('hypervLimits', () => {
  it('follows the generation and the configured logical sector size', () => {
    const gen2 = hypervLimits({ recoveryVm: {} } as Parameters<typeof hypervLimits>[0]);
    assert.deepEqual([gen2.firmware, gen2.controllers, gen2.sectorSizes], [['uefi'], ['hyperv-scsi'], [512, 4096]]);
    assert.equal(gen2.maxVolumeBytes, 64 * 1024 ** 4);
    const gen1 = hypervLimits({ recoveryVm: { generation: 1, logicalSectorSize: 512 } } as Parameters<typeof hypervLimits>[0]);
    assert.deepEqual([gen1.firmware, gen1.controllers, gen1.sectorSizes], [['bios'], ['hyperv-ide', 'hyperv-scsi'], [512]]);
  });
});
