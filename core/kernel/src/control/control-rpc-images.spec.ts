import assert from 'node:assert/strict';
import { NotFoundError, OpenCdpError } from '../errors.js';
import type { ImageExportReport, ImageOperations } from '../images/image-api.js';
import { ExportDiskFullError } from '../images/image-writers.js';
import type { ApplianceControl } from './appliance-control.js';
import { RemoteApplianceControl, serveControl, type ControlServer } from './control-rpc.js';

/** An appliance whose only real part is a scripted ImageOperations: the transport is under test. */
function applianceWithImages(images?: ImageOperations): ApplianceControl {
  const none = async (): Promise<never> => { throw new Error('not used'); };
  return {
    siteId: 'site-b', ...(images ? { images } : {}), inventory: none, protectGroup: none, unprotectGroup: none, pause: none, resume: none, forceSync: none,
    cutCheckpoints: none, finalCheckpoint: none, shutdownVms: none, powerOnVms: none, groupFacts: none,
  };
}

describe('control link: checkpoint images', () => {
  let server: ControlServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('carries exports with progress, file bytes, sessions and typed errors', async () => {
    const calls: unknown[][] = [];
    const report = { id: 'e1', sha256: 'ab', files: [] } as unknown as ImageExportReport;
    const images: ImageOperations = {
      exportImage: async (r, progress) => {
        calls.push(['exportImage', r]);
        progress?.(40, 'writing qcow2');
        progress?.(100, 'exported');
        return report;
      },
      listExports: async (g) => (calls.push(['listExports', g]), [report]),
      readExportFile: async (id, name, offset, length) => Buffer.from([offset, length, 0, 255]),
      deleteExport: async (id) => { throw new NotFoundError('image export', id); },
      serveImage: async () => { throw new ExportDiskFullError('/x', 'full'); },
      listSessions: async () => [],
      stopSession: async () => undefined,
    };
    server = await serveControl(applianceWithImages(images), { host: '127.0.0.1', port: 0 }, { token: 'secret' });
    const remote = new RemoteApplianceControl('site-b', server.url, 'secret');
    const seen: [number, string][] = [];
    assert.equal((await remote.images.exportImage({ groupId: 'g', checkpointId: 'c', vmId: 'v', volumeId: 'd', format: 'qcow2' }, (p, s) => seen.push([p, s]))).id, 'e1');
    assert.deepEqual(seen, [[40, 'writing qcow2'], [100, 'exported']]);
    assert.deepEqual(calls[0], ['exportImage', { groupId: 'g', checkpointId: 'c', vmId: 'v', volumeId: 'd', format: 'qcow2' }]);
    assert.deepEqual(await remote.images.listExports('g'), [report]);
    assert.deepEqual(calls[1], ['listExports', 'g']);
    assert.deepEqual(await remote.images.readExportFile('e1', 'x.qcow2', 7, 9), Buffer.from([7, 9, 0, 255]));
    assert.deepEqual(await remote.images.listSessions(), []);
    await assert.rejects(remote.images.deleteExport('e9'), (e: unknown) => e instanceof NotFoundError && e.id === 'e9');
    await assert.rejects(remote.images.serveImage({ groupId: 'g', checkpointId: 'c', vmId: 'v', volumeId: 'd' }), (e: unknown) => e instanceof OpenCdpError && e.code === 'EXPORT_DISK_FULL');
  });

  it('an appliance without images answers UNSUPPORTED', async () => {
    server = await serveControl(applianceWithImages(), { host: '127.0.0.1', port: 0 }, { token: 'secret' });
    const remote = new RemoteApplianceControl('site-b', server.url, 'secret');
    await assert.rejects(remote.images.listExports(), (e: unknown) => e instanceof OpenCdpError && e.code === 'UNSUPPORTED' && /checkpoint images/.test(e.message));
  });
});
