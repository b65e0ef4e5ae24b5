import assert from 'node:assert/strict';
import { checkRegions, pieces, RegionListError } from './region-list.js';

describe('checkRegions (change-tracking region lists)', () => {
  const volume = { id: 'vol-1', sizeBytes: 1024 * 1024 };
  const r = (offset: number, length: number, volumeId = 'vol-1'): { volumeId: string; offset: number; length: number } => ({ volumeId, offset, length });

  it('sorts and merges overlapping and adjacent regions, leaving the input alone', () => {
    const input = [r(8192, 4096), r(0, 4096), r(2048, 4096), r(12288, 100), r(20000, 10), r(20005, 1)];
    const copy = structuredClone(input);
    assert.deepEqual(checkRegions(volume, input), [r(0, 6144), r(8192, 4196), r(20000, 10)]);
    assert.deepEqual(input, copy);
    assert.deepEqual(checkRegions(volume, []), []);
  });

  it('refuses the whole list when a region is past the end, negative, empty, fractional or of another volume', () => {
    for (const bad of [r(1024 * 1024 - 10, 11), r(-1, 10), r(0, 0), r(0, 1.5), r(0, 10, 'vol-2')]) {
      assert.throws(() => checkRegions(volume, [r(0, 4096), bad]), (e: unknown) => e instanceof RegionListError && e.code === 'REGION_LIST' && e.volumeId === 'vol-1', JSON.stringify(bad));
    }
  });

  it('cuts regions into pieces of at most the given size', () => {
    assert.deepEqual([...pieces([r(0, 10), r(100, 25)], 10)], [r(0, 10), r(100, 10), r(110, 10), r(120, 5)]);
  });
});
