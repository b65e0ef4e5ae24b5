// /v1 routes of checkpoint images: export a VM volume at a checkpoint as a disk file (a task whose result is
// the export's report: files, bytes written, SHA-256), download its files (Range supported), serve it live
// over NBD, list, stop and delete. Exports and sessions live on the recovery appliance; exporting, serving,
// downloading and deleting are operator actions, listing is a viewer's.
import { Readable } from 'node:stream';
import { IMAGE_FORMAT_NAMES, ValidationError, type ImageFormat } from '@opencdp/core';
import type { ManagerParts } from '../manager-parts.js';
import { DOWNLOAD_CHUNK_BYTES } from '../images/checkpoint-images.js';
import { imageExportView, imageSessionView } from '../images/image-views.js';
import { imageSessionProperties } from './response-schemas.js';
import { body, id, json, noContent, obj, params, query, taskBody, taskStarted, userOf, type ResponseDoc, type RouteSpec } from './route-spec.js';

/** `Range: bytes=a-b` (one range) → [start, end) within `size`; undefined for no header; ValidationError for one we cannot serve. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new ValidationError(`range '${header}' is not one byte range`, 'range');
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end <= start) throw new ValidationError(`range '${header}' is outside the ${size}-byte file`, 'range');
  return { start, end };
}

export function imageRoutes({ images }: Pick<ManagerParts, 'images'>): RouteSpec[] {
  const cpParams = obj({ vpgIdentifier: id, checkpointIdentifier: id }, ['vpgIdentifier', 'checkpointIdentifier']);
  const exportParams = obj({ exportIdentifier: id }, ['exportIdentifier']);
  const fileParams = obj({ exportIdentifier: id, fileName: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$' } }, ['exportIdentifier', 'fileName']);
  const sessionParams = obj({ sessionIdentifier: id }, ['sessionIdentifier']);
  const target = { vmIdentifier: id, volumeIdentifier: id };
  const fileHeaders: ResponseDoc['headers'] = {
    'x-opencdp-sha256': { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the whole file (also of a partial answer), as the appliance computed it' },
    'accept-ranges': { type: 'string', description: 'bytes: one Range may be asked for' },
    'content-length': { type: 'integer', description: 'bytes in this answer' },
  };
  return [
    {
      method: 'POST', url: '/v1/vpgs/:vpgIdentifier/checkpoints/:checkpointIdentifier/images', role: 'operator', tags: ['images'],
      summary: 'Export a VM volume at the checkpoint as a disk file on the recovery appliance (raw, qcow2, vmdk-flat, vmdk-stream, vhdx); the task\'s result is the export',
      operationId: 'exportCheckpointImage', params: cpParams,
      responses: { 200: taskStarted({}, 'the export runs as a task: poll GET /v1/tasks/{taskIdentifier}; its result is the ImageExport') }, errors: [404, 410, 501, 503],
      body: obj({
        ...target,
        format: { enum: IMAGE_FORMAT_NAMES },
        fileName: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$', description: 'file name without extension' },
      }, ['vmIdentifier', 'volumeIdentifier', 'format']),
      handler: async (req) => {
        const p = params(req);
        const b = body(req);
        const r = await images.export(p.vpgIdentifier, p.checkpointIdentifier, {
          vmId: String(b.vmIdentifier), volumeId: String(b.volumeIdentifier), format: b.format as ImageFormat, ...(b.fileName !== undefined ? { name: String(b.fileName) } : {}),
        }, userOf(req));
        return taskBody(r.taskId);
      },
    },
    {
      method: 'POST', url: '/v1/vpgs/:vpgIdentifier/checkpoints/:checkpointIdentifier/images/sessions', role: 'operator', tags: ['images'],
      summary: 'Serve a VM volume at the checkpoint read-only over NBD until stopped or idle; the checkpoint stays pinned meanwhile',
      operationId: 'serveCheckpointImage', params: cpParams,
      responses: { 200: taskStarted(imageSessionProperties, 'the session is open: the ImageSession\'s fields with the task that records it') }, errors: [404, 410, 501, 503],
      body: obj({ ...target, idleTimeoutInSec: { type: 'integer', minimum: 1, maximum: 86_400 } }, ['vmIdentifier', 'volumeIdentifier']),
      handler: async (req) => {
        const p = params(req);
        const b = body(req);
        const r = await images.serve(p.vpgIdentifier, p.checkpointIdentifier, {
          vmId: String(b.vmIdentifier), volumeId: String(b.volumeIdentifier), ...(b.idleTimeoutInSec !== undefined ? { idleTimeoutSec: b.idleTimeoutInSec as number } : {}),
        }, userOf(req));
        return taskBody(r.taskId, imageSessionView(r.session));
      },
    },
    {
      method: 'GET', url: '/v1/images', role: 'viewer', tags: ['images'], summary: 'Image exports and live NBD sessions on the recovery appliances',
      operationId: 'listImages', querystring: obj({ vpgIdentifier: id }),
      responses: { 200: json('exports and sessions of every reachable recovery appliance', 'ImageList') }, errors: [404, 503],
      handler: async (req) => {
        const g = query(req).vpgIdentifier;
        const { exports, sessions } = await images.list(g);
        return { exports: exports.map(imageExportView), sessions: sessions.map(imageSessionView) };
      },
    },
    {
      method: 'GET', url: '/v1/images/exports/:exportIdentifier', role: 'viewer', tags: ['images'], summary: 'One image export', params: exportParams,
      operationId: 'getImageExport', responses: { 200: json('the export', 'ImageExport') }, errors: [404, 503],
      handler: async (req) => imageExportView(await images.getExport(params(req).exportIdentifier)),
    },
    {
      method: 'GET', url: '/v1/images/exports/:exportIdentifier/files/:fileName', role: 'operator', tags: ['images'],
      summary: 'Download a file of an export (one Range allowed); x-opencdp-sha256 carries the whole file\'s hash', params: fileParams,
      operationId: 'downloadImageExportFile',
      headers: { type: 'object', properties: { range: { type: 'string', maxLength: 100, description: 'one byte range: bytes=a-b, bytes=a- or bytes=-n' } } },
      responses: {
        200: { description: 'the whole file', contentType: 'application/octet-stream', headers: fileHeaders },
        206: {
          description: 'the asked byte range of the file', contentType: 'application/octet-stream',
          headers: { ...fileHeaders, 'content-range': { type: 'string', pattern: '^bytes [0-9]+-[0-9]+/[0-9]+$', description: 'bytes start-end/size' } },
        },
      },
      errors: [404, 503],
      handler: async (req, reply) => {
        const p = params(req);
        const report = await images.getExport(p.exportIdentifier);
        const file = report.files.find((f) => f.name === p.fileName);
        if (!file) throw new ValidationError(`export '${report.id}' has no file '${p.fileName}'`, 'fileName');
        const range = parseRange(req.headers.range, file.sizeBytes);
        const start = range?.start ?? 0;
        const end = range?.end ?? file.sizeBytes;
        let at = start;
        // Pulled chunk by chunk over the control link as the client reads: nothing is held whole.
        const stream = new Readable({
          read(): void {
            if (at >= end) {
              this.push(null);
              return;
            }
            const length = Math.min(DOWNLOAD_CHUNK_BYTES, end - at);
            images.readExport(report.id, file.name, at, length).then((chunk) => {
              if (chunk.length === 0) throw new Error(`the file ended at ${at} of ${end}`);
              at += chunk.length;
              this.push(chunk);
            }, (e: Error) => this.destroy(e)).catch((e: Error) => this.destroy(e));
          },
        });
        void reply.header('content-type', 'application/octet-stream').header('content-length', String(end - start)).header('accept-ranges', 'bytes')
          .header('content-disposition', `attachment; filename="${file.name}"`).header('x-opencdp-sha256', file.sha256);
        if (range) void reply.status(206).header('content-range', `bytes ${start}-${end - 1}/${file.sizeBytes}`);
        return reply.send(stream);
      },
    },
    {
      method: 'DELETE', url: '/v1/images/exports/:exportIdentifier', role: 'operator', tags: ['images'], summary: 'Delete an export\'s files', params: exportParams,
      operationId: 'deleteImageExport', responses: { 204: noContent('deleted') }, errors: [404, 503],
      handler: async (req, reply) => {
        await images.deleteExport(params(req).exportIdentifier, userOf(req));
        return reply.status(204).send();
      },
    },
    {
      method: 'DELETE', url: '/v1/images/sessions/:sessionIdentifier', role: 'operator', tags: ['images'], summary: 'Stop a live NBD session (its checkpoint is released)', params: sessionParams,
      operationId: 'stopImageSession', responses: { 204: noContent('stopped') }, errors: [404, 503],
      handler: async (req, reply) => {
        await images.stopSession(params(req).sessionIdentifier, userOf(req));
        return reply.status(204).send();
      },
    },
  ];
}
