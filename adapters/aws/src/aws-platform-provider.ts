// How an appliance process gets the AWS platform from its config: EC2 (and EBS) as the hypervisor —
// recovery into EBS snapshots and instances, change tracking of protected instances — and, for the
// recovery role with an S3 bucket configured, S3 as recovery storage, with standby snapshot chains
// following the replicas. It checks the bucket and the credentials file before returning and logs what it
// connected to, never a secret.
import { fromIni } from '@aws-sdk/credential-provider-ini';
import type { PlatformContext, PlatformInstance, PlatformProvider, StorageAdapter } from '@opencdp/core';
import { createEbsClient, createEc2Client, createS3Client, type AwsCredentials } from './aws-clients.js';
import { awsConfigSchema, checkCredentialsFile, parseAwsConfig, type AwsPlatformConfig } from './aws-config.js';
import { AwsHypervisor } from './aws-hypervisor.js';
import { S3Storage } from './s3/s3-storage.js';
import { ReplicaTrackingStorage } from './standby/replica-tracking-storage.js';
import { StandbyChains } from './standby/standby-chains.js';

export class AwsPlatformProvider implements PlatformProvider {
  readonly platform = 'aws';
  readonly configSchema: Record<string, unknown> = awsConfigSchema as unknown as Record<string, unknown>;

  async create(config: unknown, context: PlatformContext): Promise<PlatformInstance> {
    const c: AwsPlatformConfig = parseAwsConfig(config);
    let credentials: AwsCredentials | undefined;
    if (c.credentials?.file !== undefined) await checkCredentialsFile(c.credentials.file);
    if (c.credentials?.file !== undefined || c.credentials?.profile !== undefined) {
      credentials = fromIni({ ...(c.credentials.profile ? { profile: c.credentials.profile } : {}), ...(c.credentials.file ? { filepath: c.credentials.file } : {}) });
    }
    const base = { region: c.region, ...(credentials ? { credentials } : {}), maxAttempts: c.maxAttempts ?? 5 };
    const ec2 = createEc2Client({ ...base, ...(c.endpoints?.ec2 ? { endpoint: c.endpoints.ec2 } : {}) });
    const ebs = createEbsClient({ ...base, ...(c.endpoints?.ebs ? { endpoint: c.endpoints.ebs } : {}) });
    const s3Client = c.s3 ? createS3Client({ ...base, ...(c.endpoints?.s3 ? { endpoint: c.endpoints.s3 } : {}), forcePathStyle: c.s3.forcePathStyle ?? false }) : undefined;
    const destroy = (): void => {
      ec2.destroy();
      ebs.destroy();
      s3Client?.destroy();
    };
    try {
      const hypervisor = new AwsHypervisor({
        ec2, ebs, clock: context.clock, log: context.log,
        ...(c.recovery ? { recovery: c.recovery } : {}),
        ...(c.protection?.instanceTagKey ? { instanceFilter: { tagKey: c.protection.instanceTagKey, ...(c.protection.instanceTagValue !== undefined ? { tagValue: c.protection.instanceTagValue } : {}) } } : {}),
        changeTracking: { ...(c.protection?.minIntervalSeconds ? { minIntervalMs: c.protection.minIntervalSeconds * 1000 } : {}) },
      });
      let recoveryStorage: StorageAdapter | undefined;
      let standby: StandbyChains | undefined;
      const prefix = c.s3?.prefix ?? `opencdp/${context.siteId}/`;
      if (s3Client && c.s3 && context.roles.includes('recovery')) {
        const s3 = new S3Storage({
          client: s3Client, bucket: c.s3.bucket, prefix,
          ...(c.s3.chunkBytes ? { chunkBytes: c.s3.chunkBytes } : {}), ...(c.s3.concurrency ? { concurrency: c.s3.concurrency } : {}),
        });
        // Fail at start, with the AWS code and what to do, rather than at the first journal write.
        await s3.check();
        recoveryStorage = s3;
        if (c.standby?.enabled !== false) {
          standby = new StandbyChains({
            ebs: hypervisor.ebs, ec2: hypervisor.ec2, storage: s3, clock: context.clock, log: context.log,
            intervalMs: (c.standby?.intervalSeconds ?? 300) * 1000, ...(c.standby?.keep ? { keep: c.standby.keep } : {}),
          });
          await standby.load();
          standby.start();
          hypervisor.useStandby(standby);
          recoveryStorage = new ReplicaTrackingStorage(s3, standby);
        }
      }
      context.log('aws-platform-ready', {
        region: c.region, roles: context.roles, bucket: recoveryStorage ? c.s3!.bucket : null, prefix: recoveryStorage ? prefix : null,
        standby: standby !== undefined, credentials: credentials ? 'shared credentials file/profile' : 'default provider chain',
        endpoints: Object.keys(c.endpoints ?? {}),
      });
      return {
        hypervisor,
        ...(recoveryStorage ? { recoveryStorage } : {}),
        async dispose() {
          await standby?.stop();
          destroy();
        },
      };
    } catch (error) {
      destroy();
      throw error;
    }
  }
}
