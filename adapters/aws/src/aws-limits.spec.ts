// The AWS recovery limits follow the config: the volume type sets the largest disk, the boot mode and
// architecture the firmware; EBS on Nitro is NVMe with 512-byte logical sectors.
import assert from 'node:assert/strict';
import { awsLimits } from './aws-hypervisor.js';

const TiB = 1024 ** 4;

describe('awsLimits', () => {
  it('derives the largest disk from the volume type and the firmware from the boot mode and architecture', () => {
    assert.equal(awsLimits('gp3', undefined, 'x86_64').maxVolumeBytes, 16 * TiB);
    assert.equal(awsLimits('io2', undefined, 'x86_64').maxVolumeBytes, 64 * TiB);
    assert.deepEqual(awsLimits('gp3', undefined, 'x86_64').firmware, ['bios']);
    assert.deepEqual(awsLimits('gp3', 'uefi', 'x86_64').firmware, ['uefi']);
    assert.deepEqual(awsLimits('gp3', 'uefi-preferred', 'x86_64').firmware, ['uefi', 'bios']);
    assert.deepEqual(awsLimits('gp3', 'legacy-bios', 'arm64').firmware, ['uefi'], 'Graviton boots UEFI only');
    const l = awsLimits('gp3', undefined, undefined);
    assert.deepEqual([l.sectorSizes, l.controllers, l.networkKinds], [[512], ['nvme'], ['subnet']]);
  });
});
