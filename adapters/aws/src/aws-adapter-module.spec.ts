// The AWS adapter as an appliance loads it: its ContainerModule in an inversify container gives the
// PlatformProvider, whose schema refuses bad configs naming the field, which refuses a credentials file
// others can read, and which creates the platform from a config — S3 recovery storage on a real s3rver,
// EC2/EBS on the SIMULATION — credentials from a 0600 shared-credentials file, none of them logged.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { Container } from 'inversify';
import { Journal, PlatformProvider, SystemClock, ValidationError, VirtualClock, type PlatformContext } from '@opencdp/core';
import { S3StorageError } from './aws-errors.js';
import { awsAdapterModule } from './aws-adapter-module.js';
import { AwsHypervisor } from './aws-hypervisor.js';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from './s3/s3rver-process.js';
import { SimulatedAwsServer } from './simulation/simulated-aws-server.js';
import { ReplicaTrackingStorage } from './standby/replica-tracking-storage.js';

describe('awsAdapterModule and AwsPlatformProvider (S3 on s3rver, EBS/EC2 simulated)', function () {
  this.timeout(60_000);
  let s3: S3rverHandle;
  let sim: SimulatedAwsServer;
  let dir: string;
  let credentialsFile: string;
  let logs: string[];
  let context: PlatformContext;

  before(async () => {
    s3 = await startS3rver({ buckets: ['dr-site'] });
    // One key pair for every service: the simulation accepts s3rver's fixed account.
    sim = await SimulatedAwsServer.start({ clock: new SystemClock(), region: 'eu-west-1', credentials: [S3RVER_CREDENTIALS] });
  });

  after(async () => {
    await sim.stop();
    await s3.stop();
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-aws-module-'));
    credentialsFile = path.join(dir, 'credentials');
    await fs.writeFile(credentialsFile, `[dr]\naws_access_key_id = ${S3RVER_CREDENTIALS.accessKeyId}\naws_secret_access_key = ${S3RVER_CREDENTIALS.secretAccessKey}\n`, { mode: 0o600 });
    logs = [];
    context = { roles: ['recovery'], siteId: 'site-b', dataDir: dir, clock: new VirtualClock(), log: (event, fields) => logs.push(JSON.stringify({ event, ...fields })) };
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  function config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      region: 'eu-west-1',
      credentials: { file: credentialsFile, profile: 'dr' },
      endpoints: { s3: s3.endpoint, ebs: sim.endpoint, ec2: sim.endpoint },
      s3: { bucket: 'dr-site', forcePathStyle: true },
      recovery: { instanceType: 't3.large', securityGroupIds: ['sg-0a1b2c'] },
      standby: { intervalSeconds: 600 },
      maxAttempts: 2,
      ...overrides,
    };
  }

  function provider(): PlatformProvider {
    const container = new Container();
    container.load(awsAdapterModule);
    const p = container.get<PlatformProvider>(PlatformProvider);
    assert.equal(p, container.get<PlatformProvider>(PlatformProvider), 'one provider');
    return p;
  }

  it('binds a PlatformProvider named aws whose schema accepts a full config and refuses bad ones, naming the field', () => {
    const p = provider();
    assert.equal(p.platform, 'aws');
    const validate = new Ajv({ strict: true, allErrors: true }).compile(p.configSchema);
    assert.equal(validate(config()), true, JSON.stringify(validate.errors));
    const bad: [Record<string, unknown>, string][] = [
      [{ region: 'mars' }, '/region'],
      [{ s3: { bucket: 'Bad_Bucket' } }, '/s3/bucket'],
      [{ s3: { bucket: 'ok-bucket', prefix: '/abs/' } }, '/s3/prefix'],
      [{ secretAccessKey: 'x' }, ''],
      [{ recovery: { securityGroupIds: ['sg-xyz!'] } }, '/recovery/securityGroupIds/0'],
      [{ standby: { intervalSeconds: 5 } }, '/standby/intervalSeconds'],
    ];
    for (const [overrides, where] of bad) {
      assert.equal(validate(config(overrides)), false, JSON.stringify(overrides));
      assert.ok(validate.errors!.some((e) => e.instancePath === where), `${JSON.stringify(overrides)}: ${JSON.stringify(validate.errors)}`);
    }
  });

  it('creates the platform from a config: EC2 hypervisor, S3 recovery storage with standby tracking; no secret in the log', async () => {
    const platform = await provider().create(config(), context);
    try {
      assert.ok(platform.hypervisor instanceof AwsHypervisor);
      const inventory = await platform.hypervisor.inventory();
      assert.deepEqual(inventory.networks.map((n) => n.isolated), [false, true]);
      assert.ok(platform.recoveryStorage instanceof ReplicaTrackingStorage);
      const journal = await Journal.open({
        storage: platform.recoveryStorage!, clock: context.clock, path: 'journals/g1/vm-1', vmId: 'vm-1', volumes: [{ id: 'v', sizeBytes: 1 << 20, sectorSize: 512 }],
        historyMs: 60_000, hardLimitBytes: 64 << 20, warningBytes: 32 << 20,
      });
      await journal.append({ volumeId: 'v', offset: 4096, data: Buffer.alloc(4096, 7), seq: 1 });
      await journal.addCheckpoint({ id: 'cp-1', groupId: 'g1', seq: 1, timestamp: 0, kind: 'auto' });
      await journal.close();
      // The journal is in the bucket under the site's prefix.
      const listed = await fs.readdir(path.join(s3.directory, 'dr-site'), { recursive: true });
      assert.ok(listed.some((f) => String(f).includes('opencdp/site-b/f/journals/g1/vm-1/journal.json')), listed.join(', '));
      const ready = logs.find((l) => l.includes('aws-platform-ready'))!;
      assert.match(ready, /"bucket":"dr-site"/);
      for (const line of logs) assert.doesNotMatch(line, new RegExp(S3RVER_CREDENTIALS.secretAccessKey + '|aws_secret'), 'no secret is logged');
    } finally {
      await platform.dispose();
    }
  });

  it('refuses a credentials file others can read, and a missing bucket, with typed errors', async () => {
    await fs.chmod(credentialsFile, 0o644);
    await assert.rejects(provider().create(config(), context), (e: unknown) => e instanceof ValidationError && e.field === 'credentials.file' && /chmod 600/.test(e.message));
    await fs.chmod(credentialsFile, 0o600);
    await assert.rejects(provider().create(config({ s3: { bucket: 'no-such-bucket', forcePathStyle: true } }), context),
      (e: unknown) => e instanceof S3StorageError && e.awsCode === 'NoSuchBucket' && e.reason === 'missing');
    await assert.rejects(provider().create({ region: 'eu-west-1', bogus: 1 }, context), (e: unknown) => e instanceof ValidationError && e.field === 'bogus');
    // The protected role needs no bucket: no recovery storage, the default (local files) stays.
    const protectedSite = await provider().create(config({ s3: undefined }), { ...context, roles: ['protected'] });
    assert.equal(protectedSite.recoveryStorage, undefined);
    assert.ok(protectedSite.hypervisor.changeTracking);
    await protectedSite.dispose();
  });
});
