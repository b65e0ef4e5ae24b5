import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageService, requireHostToolsOrSkip } from '@opencdp/core';
import { imageRig, type ImageRig } from '@opencdp/core/images/testing';
import { TaskState } from '../store.js';
import { checkResponse } from '../testing/response-checker.js';
import { createSyncedGroup, HttpClient, startWorld, waitTask, type World } from '../testing/spec-helpers.js';
import { parseRange } from './image-routes.js';

const run = promisify(execFile);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('manager image routes, with a real image service on the recovery appliance', function () {
  this.timeout(60_000);
  let w: World;
  let id: string;
  let cp: string;
  let rig: ImageRig;
  let service: ImageService;
  const vm = 'site-a-vm-1';

  before(function () {
    requireHostToolsOrSkip(this, ['qemu-img']);
  });

  beforeEach(async () => {
    w = await startWorld();
    await w.http.login();
    id = await createSyncedGroup(w);
    await w.clock.advance(2000);
    cp = ((await w.http.get(`/v1/vpgs/${id}/checkpoints`)).body as { checkpointIdentifier: string }[])[0].checkpointIdentifier;
    // The recovery appliance's journal of the VM, holding the manager's checkpoint.
    rig = await imageRig(11, { groupId: id, vmId: vm });
    await rig.writeRandom('disk', 30);
    await rig.writeRandom('disk4k', 5);
    await rig.checkpoint(cp);
    service = await ImageService.open({ clock: rig.clock, journals: rig.journals, groups: rig.groups, exportDir: join(rig.dir, 'exports'), socketDir: join(rig.dir, 's') });
    Object.assign(w.siteB, { images: service });
  });

  afterEach(async () => {
    await service.close();
    await rig.close();
    await w.close();
  });

  const url = (): string => `/v1/vpgs/${id}/checkpoints/${cp}/images`;

  it('exports as a task whose result reports bytes written and SHA-256; downloads whole or by range; lists; deletes', async () => {
    const r = await w.http.post(url(), { vmIdentifier: vm, volumeIdentifier: 'disk', format: 'qcow2', fileName: 'web' });
    assert.equal(r.status, 200, r.text);
    const t = await waitTask(w, r.body.taskIdentifier);
    assert.equal(t.state, TaskState.Completed, t.error);
    const report = t.result as { exportIdentifier: string; file: string; sha256: string; bytesWritten: number; files: { name: string; sizeInBytes: number; sha256: string }[]; format: string };
    assert.equal(report.file, 'web.qcow2');
    assert.equal(report.format, 'qcow2');
    assert.ok(report.bytesWritten > 0 && report.bytesWritten < 8 * 1024 * 1024, `${report.bytesWritten} bytes written`);
    assert.deepEqual((await w.http.get(`/v1/images/exports/${report.exportIdentifier}`)).body, report);
    // Files are read as bytes (the test client reads text), then checked against the document like every answer.
    const fileAt = async (range?: string): Promise<{ status: number; headers: Headers; bytes: Buffer }> => {
      const path = `/v1/images/exports/${report.exportIdentifier}/files/web.qcow2`;
      const res = await fetch(`${w.http.base}${path}`, { headers: { 'x-zerto-session': w.http.token!, ...(range ? { range } : {}) } });
      const got = Buffer.from(await res.arrayBuffer());
      await checkResponse(w.http.base, 'GET', path, { status: res.status, body: got.toString('latin1'), text: got.toString('latin1'), headers: res.headers }, fetch);
      return { status: res.status, headers: res.headers, bytes: got };
    };
    const download = await fileAt();
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'application/octet-stream');
    const bytes = download.bytes;
    assert.equal(download.headers.get('x-opencdp-sha256'), report.sha256);
    assert.equal(sha256(bytes), report.sha256, 'the download is the file');
    const local = join(rig.dir, 'downloaded.qcow2');
    await fs.writeFile(local, bytes);
    await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'qcow2', await rig.oracleFile(cp, 'disk'), local]);
    const part = await fileAt('bytes=100-199');
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
    assert.deepEqual(part.bytes, bytes.subarray(100, 200));
    assert.equal((await w.http.request('GET', `/v1/images/exports/${report.exportIdentifier}/files/web.qcow2`, undefined, { range: 'bytes=0-1,5-6' })).status, 400, 'one range only');
    const listed = await w.http.get(`/v1/images?vpgIdentifier=${id}`);
    assert.deepEqual(listed.body.exports.map((e: { exportIdentifier: string }) => e.exportIdentifier), [report.exportIdentifier]);
    const events = (await w.http.get('/v1/events')).body as { eventType: string; description: string }[];
    assert.ok(events.some((e) => e.eventType === 'ImageExported' && e.description.includes(report.sha256)));
    assert.equal((await w.http.delete(`/v1/images/exports/${report.exportIdentifier}`)).status, 204);
    assert.equal((await w.http.get(`/v1/images/exports/${report.exportIdentifier}`)).status, 404);
    assert.deepEqual(await fs.readdir(join(rig.dir, 'exports')), []);
  });

  it('serves live over NBD: the answer carries the URI qemu-img reads the checkpoint through; stop ends it', async () => {
    const r = await w.http.post(`${url()}/sessions`, { vmIdentifier: vm, volumeIdentifier: 'disk', idleTimeoutInSec: 600 });
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.nbdUri, /^nbd\+unix:\/\/\/[0-9a-f]{32}\?socket=\//);
    assert.equal(r.body.idleTimeoutInSec, 600);
    await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', await rig.oracleFile(cp, 'disk'), r.body.nbdUri]);
    assert.equal((await w.http.get('/v1/images')).body.sessions.length, 1);
    assert.equal((await w.http.delete(`/v1/images/sessions/${r.body.sessionIdentifier}`)).status, 204);
    assert.deepEqual((await w.http.get('/v1/images')).body.sessions, []);
    assert.equal((await w.http.delete(`/v1/images/sessions/${r.body.sessionIdentifier}`)).status, 404);
    await assert.rejects(run('qemu-img', ['info', r.body.nbdUri]), 'the session is gone');
  });

  it('bad input and roles: typed statuses, nothing made', async () => {
    assert.equal((await w.http.post(url(), { vmIdentifier: vm, volumeIdentifier: 'disk', format: 'vdi' })).status, 400);
    assert.equal((await w.http.post(url(), { vmIdentifier: vm, volumeIdentifier: 'disk', format: 'raw', fileName: '../x' })).status, 400);
    assert.equal((await w.http.post(`/v1/vpgs/nope/checkpoints/${cp}/images`, { vmIdentifier: vm, volumeIdentifier: 'disk', format: 'raw' })).status, 404);
    const outside = await w.http.post(url(), { vmIdentifier: 'site-a-vm-9', volumeIdentifier: 'disk', format: 'raw' });
    assert.equal(outside.status, 400);
    assert.equal(outside.body.field, 'vmIdentifiers');
    assert.equal((await w.http.post(`/v1/vpgs/${id}/checkpoints/nope/images`, { vmIdentifier: vm, volumeIdentifier: 'disk', format: 'raw' })).status, 404);
    // Checked on the appliance: the task fails with the reason, and nothing is written.
    const vmdk = await w.http.post(url(), { vmIdentifier: vm, volumeIdentifier: 'disk4k', format: 'vmdk-stream' });
    const failed = await waitTask(w, vmdk.body.taskIdentifier);
    assert.equal(failed.state, TaskState.Failed);
    assert.match(String(failed.error), /4096-byte sectors/);
    const unknownVolume = await waitTask(w, (await w.http.post(url(), { vmIdentifier: vm, volumeIdentifier: 'nope', format: 'raw' })).body.taskIdentifier);
    assert.match(String(unknownVolume.error), /volume 'nope'/);
    assert.deepEqual(await fs.readdir(join(rig.dir, 'exports')), []);
    assert.equal((await w.http.get('/v1/images/exports/nope')).status, 404);
    // A viewer lists but neither exports, serves nor downloads.
    assert.equal((await w.http.post('/v1/users', { name: 'auditor', password: 'viewer-password-1', role: 'viewer' })).status, 201);
    const viewer = new HttpClient(w.http.base);
    await viewer.login('auditor', 'viewer-password-1');
    assert.equal((await viewer.post(url(), { vmIdentifier: vm, volumeIdentifier: 'disk', format: 'raw' })).status, 403);
    assert.equal((await viewer.post(`${url()}/sessions`, { vmIdentifier: vm, volumeIdentifier: 'disk' })).status, 403);
    assert.equal((await viewer.get('/v1/images')).status, 200);
    assert.equal((await viewer.get('/v1/images/exports/x/files/y.img')).status, 403);
  });

  it('parses one byte range, refusing what it cannot serve', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 10 });
    assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 100 });
    assert.deepEqual(parseRange('bytes=-5', 100), { start: 95, end: 100 });
    assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 100 });
    assert.equal(parseRange(undefined, 100), undefined);
    for (const bad of ['bytes=100-', 'bytes=5-2', 'bytes=0-1,3-4', 'items=0-1', 'bytes=-']) assert.throws(() => parseRange(bad, 100), /range/);
  });
});
