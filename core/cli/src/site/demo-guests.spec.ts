// The demo's guest controls on a platform the appliance cannot reach into: reads and hashes go through
// the platform's readVolume (checked against the bytes), what needs the guests' cooperation is refused
// with a reason, and a fake workload is refused at start, naming the field.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { UnsupportedError, ValidationError, type HypervisorAdapter, type VmInfo } from '@opencdp/core';
import { demoGuestsFor } from './demo-guests.js';

const disk = Buffer.alloc(3 * 1024 * 1024);
disk.write('hello from a real platform', 4096);
const vm: VmInfo = { id: 'vm-x', name: 'x', hostId: 'h', powerState: 'on', volumes: [{ id: 'vm-x-d0', vmId: 'vm-x', name: 'd0', sizeBytes: disk.length, sectorSize: 512 }], nics: [] };
const platform: HypervisorAdapter = {
  platform: 'acme',
  inventory: async () => ({ hosts: [], vms: [vm], networks: [], datastores: [] }),
  getVm: async () => vm,
  readVolume: async (_vm, _v, offset, length) => disk.subarray(offset, offset + length),
  createRecoveryVm: async () => vm,
  powerOn: async () => undefined,
  shutdownGuest: async () => undefined,
  powerOff: async () => undefined,
  deleteVm: async () => undefined,
};

describe('demo guest controls on another platform', () => {
  it('reads and hashes through readVolume, refuses what needs the guest, and refuses a fake workload naming the field', async () => {
    const guests = demoGuestsFor(platform, undefined, () => undefined);
    assert.deepEqual(await guests.vms(), [{ id: 'vm-x', name: 'x' }]);
    assert.equal(Buffer.from(await guests.read('vm-x', 'vm-x-d0', 4096, 26), 'base64').toString(), 'hello from a real platform');
    assert.deepEqual(await guests.hashVolumes(['vm-x']), { 'vm-x-d0': createHash('sha256').update(disk).digest('hex') });
    await assert.rejects(guests.quiesce(['vm-x']), (e: unknown) => e instanceof UnsupportedError && /platform 'acme'/.test(e.message));
    await assert.rejects(guests.ransomware('vm-x', 4096), UnsupportedError);
    assert.throws(() => demoGuestsFor(platform, { seed: 1, ratePerSecond: 10, writeSizes: [4096] }, () => undefined),
      (e: unknown) => e instanceof ValidationError && e.field === 'workload');
  });
});
