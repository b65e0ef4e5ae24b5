// S3Storage against a real S3-protocol server (s3rver in a child process, through @aws-sdk/client-s3):
// the StorageAdapter contract every store owes, then what only S3 shows — chunk objects and sparse
// files, atomic replace without rename, multipart uploads, a simulated crash losing exactly the
// unflushed writes, typed errors for a missing bucket, wrong credentials and malformed objects.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { StorageError, seededRandom } from '@opencdp/core';
import { describeStorageContract } from '@opencdp/core/testing';
import { AwsChecksumError, S3StorageError } from '../aws-errors.js';
import { s3ClientFor, s3Fixture, SPEC_BUCKET } from '../spec-helpers.js';
import { S3Storage } from './s3-storage.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('S3Storage on s3rver', function () {
  this.timeout(60_000);
  const s3 = s3Fixture();

  /** Every object key under a prefix, with sizes. */
  async function objects(prefix: string): Promise<{ key: string; size: number }[]> {
    const out = await s3().client.send(new ListObjectsV2Command({ Bucket: SPEC_BUCKET, Prefix: prefix }));
    return (out.Contents ?? []).map((c) => ({ key: c.Key!.slice(prefix.length), size: c.Size ?? 0 }));
  }

  describe('contract', () => {
    describeStorageContract('S3Storage (1 MiB chunks)', async () => {
      const storage = s3().storage({ chunkBytes: MiB });
      return {
        storage,
        // What S3 really holds for the file: the sizes of its chunk objects.
        allocatedBytes: async (name: string) => {
          const head = await s3().client.send(new GetObjectCommand({ Bucket: SPEC_BUCKET, Key: `${storage.prefix}f/${name}` }));
          const { id } = JSON.parse(await head.Body!.transformToString()) as { id: string };
          return (await objects(`${storage.prefix}c/${id}/`)).reduce((n, o) => n + o.size, 0);
        },
        dispose: async () => undefined,
      };
    });
  });

  it('keeps a file in chunk objects that store only their written range, and reads holes as zeros without a request', async () => {
    const storage = s3().storage({ chunkBytes: 256 * KiB });
    const file = await storage.open('replica/vol-1.img', { create: true, size: 4 * MiB });
    const tail = seededRandom(1).bytes(4 * KiB);
    await file.write(3 * 256 * KiB + 200 * KiB, tail);
    await file.flush();
    const listed = await objects(`${storage.prefix}c/`);
    assert.equal(listed.length, 1, 'one chunk object');
    assert.match(listed[0].key, /\/000000000003\.00032000$/, 'chunk 3, starting at 200 KiB');
    assert.equal(listed[0].size, 4 * KiB, 'no leading zeros are stored');
    const before = storage.pendingRequests;
    assert.deepEqual(await file.read(0, 512 * KiB), Buffer.alloc(512 * KiB));
    assert.equal(storage.pendingRequests, before);
    await file.close();
    const again = await storage.open('replica/vol-1.img');
    assert.equal(await again.size(), 4 * MiB);
    assert.deepEqual(await again.read(3 * 256 * KiB + 200 * KiB - 10, 4 * KiB + 20), Buffer.concat([Buffer.alloc(10), tail, Buffer.alloc(10)]));
    await again.close();
  });

  it('a flushed append survives a simulated crash; unflushed bytes beyond it are lost, never half a chunk object', async () => {
    const storage = s3().storage({ chunkBytes: 64 * KiB });
    const random = seededRandom(2);
    const file = await storage.open('journals/g/vm/segments/000001.seg', { create: true });
    const durable = random.bytes(200 * KiB);
    await file.write(0, durable);
    await file.flush();
    await file.write(durable.length, random.bytes(5 * KiB));
    storage.crash();
    await assert.rejects(file.read(0, 10), (e: unknown) => e instanceof StorageError && e.reason === 'closed');
    const again = await storage.open('journals/g/vm/segments/000001.seg');
    const size = await again.size();
    assert.ok(size >= durable.length && size <= durable.length + 5 * KiB, `size ${size}`);
    assert.equal(sha(await again.read(0, durable.length)), sha(durable));
    await again.close();
  });

  it('an append that fills chunks uploads them before any flush (bounded memory, short flushes)', async () => {
    const storage = s3().storage({ chunkBytes: 64 * KiB });
    const file = await storage.open('seg.log', { create: true });
    const data = seededRandom(3).bytes(640 * KiB);
    for (let at = 0; at < data.length; at += 16 * KiB) await file.write(at, data.subarray(at, at + 16 * KiB));
    await storage.idle();
    assert.equal(storage.dirtyBytes, 0, 'full chunks were sent in the background');
    assert.equal((await objects(`${storage.prefix}c/`)).length, 10);
    await file.close();
  });

  it('sends a chunk at or above the multipart threshold as a multipart upload, and reads it back by ranges', async () => {
    const sent: string[] = [];
    const client = s3ClientFor(s3().server.endpoint);
    client.middlewareStack.add((next, context) => async (args) => {
      sent.push(context.commandName ?? '?');
      return next(args);
    }, { step: 'initialize', name: 'recordCommands' });
    const storage = new S3Storage({ client, bucket: SPEC_BUCKET, prefix: s3().freshPrefix(), chunkBytes: 12 * MiB, multipartThresholdBytes: 6 * MiB, partBytes: 5 * MiB });
    const data = seededRandom(4).bytes(12 * MiB);
    const file = await storage.open('big.seg', { create: true });
    await file.write(0, data);
    await file.flush();
    assert.deepEqual(sent.filter((c) => /Multipart|UploadPart/.test(c)),
      ['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']);
    const [chunk] = await objects(`${storage.prefix}c/`);
    assert.equal(chunk.size, 12 * MiB);
    assert.equal(sha(await file.read(5 * MiB - 3, 2 * MiB)), sha(data.subarray(5 * MiB - 3, 7 * MiB - 3)));
    assert.equal(sha(await file.read(0, 12 * MiB)), sha(data));
    await file.close();
    client.destroy();
  });

  it('replace is one PUT of the head object: no temporary object, no rename, the last content wins', async () => {
    const storage = s3().storage();
    for (let i = 1; i <= 5; i++) {
      await storage.replace('journal.json', Buffer.from(`{"v":${i}}`));
      // s3rver cannot serve a GET racing a PUT of the same key; S3 itself answers with the old or the new object.
      assert.deepEqual(await storage.readAll('journal.json'), Buffer.from(`{"v":${i}}`));
      assert.deepEqual((await objects(storage.prefix)).map((o) => o.key), ['f/journal.json']);
    }
  });

  it('a replace over a chunked file and a delete remove its chunk objects', async () => {
    const storage = s3().storage({ chunkBytes: 64 * KiB });
    const file = await storage.open('a/b.bin', { create: true });
    await file.write(0, seededRandom(5).bytes(100 * KiB));
    await file.close();
    assert.equal((await objects(`${storage.prefix}c/`)).length, 2);
    await storage.replace('a/b.bin', Buffer.from('small'));
    assert.deepEqual(await objects(`${storage.prefix}c/`), []);
    assert.deepEqual(await storage.readAll('a/b.bin'), Buffer.from('small'));
    // Opened for writing, a replaced file becomes chunked again.
    const reopened = await storage.open('a/b.bin');
    await reopened.write(5, Buffer.from('!'));
    await reopened.close();
    assert.deepEqual(await storage.readAll('a/b.bin'), Buffer.from('small!'));
    await storage.delete('a/b.bin');
    assert.deepEqual(await objects(storage.prefix), []);
  });

  it('a crash between two versions of one chunk leaves the newer (lower start) one in charge', async () => {
    const storage = s3().storage({ chunkBytes: 64 * KiB });
    const file = await storage.open('v.img', { create: true, size: 64 * KiB });
    await file.write(32 * KiB, Buffer.alloc(4 * KiB, 1));
    await file.flush();
    const [older] = await objects(`${storage.prefix}c/`);
    // As if the next upload's delete of the older object never happened: put the older one back.
    const oldBody = await s3().client.send(new GetObjectCommand({ Bucket: SPEC_BUCKET, Key: `${storage.prefix}c/${older.key}` }));
    const oldBytes = Buffer.from(await oldBody.Body!.transformToByteArray());
    await file.write(8 * KiB, Buffer.alloc(4 * KiB, 2));
    await file.close();
    await s3().client.send(new PutObjectCommand({ Bucket: SPEC_BUCKET, Key: `${storage.prefix}c/${older.key}`, Body: oldBytes }));
    assert.equal((await objects(`${storage.prefix}c/`)).length, 2);
    const again = await storage.open('v.img');
    const got = await again.read(0, 64 * KiB);
    assert.deepEqual(got.subarray(8 * KiB, 12 * KiB), Buffer.alloc(4 * KiB, 2));
    assert.deepEqual(got.subarray(32 * KiB, 36 * KiB), Buffer.alloc(4 * KiB, 1));
    await again.write(0, Buffer.alloc(512, 3));
    await again.close();
    assert.equal((await objects(`${storage.prefix}c/`)).length, 1, 'the stale object went with the next upload');
  });

  it('reports a missing bucket as reason missing, and wrong credentials, with the AWS code and a hint, never a secret', async () => {
    const missing = new S3Storage({ client: s3().client, bucket: 'no-such-bucket', prefix: 'x/' });
    await assert.rejects(missing.check(), (e: unknown) => e instanceof S3StorageError && e.reason === 'missing' && e.awsCode === 'NoSuchBucket' && /create the bucket/.test(e.message));
    await assert.rejects(missing.open('a', { create: true }), (e: unknown) => e instanceof S3StorageError && e.awsCode === 'NoSuchBucket');
    const badClient = s3ClientFor(s3().server.endpoint, { accessKeyId: 'WRONGKEY', secretAccessKey: 'WRONGSECRET' }, 1);
    const wrong = new S3Storage({ client: badClient, bucket: SPEC_BUCKET, prefix: s3().freshPrefix() });
    const actions: [() => Promise<unknown>, string][] = [[() => wrong.readAll('x'), 'InvalidAccessKeyId'], [() => wrong.replace('x', Buffer.from('1')), 'Forbidden']];
    for (const [action, code] of actions) {
      await assert.rejects(action(), (e: unknown) => {
        assert.ok(e instanceof S3StorageError, String(e));
        assert.equal(e.awsCode, code);
        assert.match(e.message, /credentials/);
        assert.doesNotMatch(e.message, /WRONGSECRET/, 'no secret in the message');
        return true;
      });
    }
    assert.deepEqual(await s3().storage().list(''), []);
    badClient.destroy();
  });

  it('a creation that loses the If-None-Match race (AWS answers 412; simulated by the client, s3rver does not enforce it) opens the winner\'s file', async () => {
    const prefix = s3().freshPrefix();
    const winner = new S3Storage({ client: s3().client, bucket: SPEC_BUCKET, prefix, chunkBytes: 64 * KiB });
    const client = s3ClientFor(s3().server.endpoint);
    client.middlewareStack.add((next, context) => async (args) => {
      const input = args.input as { IfNoneMatch?: string };
      if (context.commandName === 'PutObjectCommand' && input.IfNoneMatch === '*') {
        // Another appliance creates the file between our existence check and our PUT.
        const theirs = await winner.open('seg-1', { create: true });
        await theirs.write(0, Buffer.from('theirs'));
        await theirs.close();
        throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      }
      return next(args);
    }, { step: 'initialize', name: 'raceCreation' });
    const loser = new S3Storage({ client, bucket: SPEC_BUCKET, prefix, chunkBytes: 64 * KiB });
    const file = await loser.open('seg-1', { create: true });
    assert.deepEqual(await file.read(0, 6), Buffer.from('theirs'));
    await file.close();
    assert.deepEqual((await objects(`${prefix}f/`)).map((o) => o.key), ['seg-1']);
    client.destroy();
  });

  it('refuses a malformed or damaged object with a typed error and changes nothing', async () => {
    const storage = s3().storage({ chunkBytes: 64 * KiB });
    await s3().client.send(new PutObjectCommand({ Bucket: SPEC_BUCKET, Key: `${storage.prefix}f/foreign`, Body: 'not ours' }));
    await assert.rejects(storage.open('foreign'), (e: unknown) => e instanceof S3StorageError && e.awsCode === 'MalformedObject');
    await assert.rejects(storage.readAll('foreign'), S3StorageError);
    await storage.replace('state.json', Buffer.from('{"a":1}'));
    await s3().client.send(new PutObjectCommand({
      Bucket: SPEC_BUCKET, Key: `${storage.prefix}f/state.json`, Body: '{"a":', Metadata: { 'ocdp-layout': 'inline', 'ocdp-sha256': sha(Buffer.from('{"a":1}')) },
    }));
    await assert.rejects(storage.readAll('state.json'), AwsChecksumError);
    // A chunk object cut short behind the adapter's back.
    const file = await storage.open('seg', { create: true });
    await file.write(0, seededRandom(6).bytes(64 * KiB));
    await file.close();
    const [chunk] = await objects(`${storage.prefix}c/`);
    await s3().client.send(new PutObjectCommand({ Bucket: SPEC_BUCKET, Key: `${storage.prefix}c/${chunk.key}`, Body: Buffer.alloc(100) }));
    const damaged = await storage.open('seg');
    await assert.rejects(damaged.read(0, 4096), (e: unknown) => e instanceof S3StorageError && e.awsCode === 'MalformedObject');
    await damaged.close();
    // Cut short but still carrying the checksum of the whole: the read is refused by checksum.
    const good = seededRandom(7).bytes(64 * KiB);
    await s3().client.send(new PutObjectCommand({
      Bucket: SPEC_BUCKET, Key: `${storage.prefix}c/${chunk.key}`, Body: good.subarray(0, 1000), Metadata: { 'ocdp-sha256': sha(good) },
    }));
    const cut = await storage.open('seg');
    await assert.rejects(cut.read(0, 64 * KiB), AwsChecksumError);
    await cut.close();
    await s3().client.send(new DeleteObjectsCommand({ Bucket: SPEC_BUCKET, Delete: { Objects: [{ Key: `${storage.prefix}f/foreign` }] } }));
  });
});
