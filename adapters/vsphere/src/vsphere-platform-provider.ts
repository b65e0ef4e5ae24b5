// How an appliance process gets a vSphere platform by package name: the provider's config schema is the
// adapter's (ajv; errors name the field), and `create` reads the password from its environment variable
// or 0600 file, pins the certificate, logs in and resolves the datacenter, datastore, folder, cluster and
// portgroups named in the config — failing with the missing name before anything is changed.
import { promises as fs } from 'node:fs';
import { ValidationError } from '@opencdp/core';
import type { PlatformContext, PlatformInstance, PlatformProvider } from '@opencdp/core';
import type { VimTrust } from './vim-http.js';
import { parseVsphereConfig, readVspherePassword, vsphereConfigSchema, type VsphereConfig } from './vsphere-config.js';
import { VsphereHypervisor } from './vsphere-hypervisor.js';

export class VspherePlatformProvider implements PlatformProvider {
  readonly platform = 'vsphere';
  readonly configSchema: Record<string, unknown> = vsphereConfigSchema as unknown as Record<string, unknown>;

  /** `env` is where `passwordEnv` is looked up (the process environment unless a host passes its own). */
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async create(config: unknown, context: PlatformContext): Promise<PlatformInstance> {
    const c = parseVsphereConfig(config);
    const password = await readVspherePassword(c, this.env);
    const hypervisor = await VsphereHypervisor.connect(connectOptions(c, password, await trustOf(c), context));
    return { hypervisor, dispose: () => hypervisor.dispose() };
  }
}

async function trustOf(c: VsphereConfig): Promise<VimTrust> {
  if (c.thumbprint !== undefined) return { kind: 'thumbprint', thumbprint: c.thumbprint };
  if (c.caFile !== undefined) {
    try {
      return { kind: 'ca', pem: await fs.readFile(c.caFile, 'utf8') };
    } catch {
      throw new ValidationError(`CA file '${c.caFile}' (vsphere caFile) cannot be read`, 'caFile');
    }
  }
  return { kind: 'system' };
}

export function connectOptions(c: VsphereConfig, password: string, trust: VimTrust, context: Pick<PlatformContext, 'siteId' | 'clock' | 'log'>): Parameters<typeof VsphereHypervisor.connect>[0] {
  return {
    url: c.url, user: c.user, password, trust, datacenter: c.datacenter, siteId: context.siteId, clock: context.clock, log: context.log,
    ...(c.testPortgroups ? { testPortgroups: c.testPortgroups } : {}),
    ...(c.livePortgroup !== undefined ? { livePortgroup: c.livePortgroup } : {}),
    ...(c.folder !== undefined ? { folder: c.folder } : {}),
    ...(c.cluster !== undefined ? { cluster: c.cluster } : {}),
    placement: {
      ...(c.datastore !== undefined ? { datastore: c.datastore } : {}),
      ...(c.guestId !== undefined ? { guestId: c.guestId } : {}),
      ...(c.memoryMB !== undefined ? { memoryMB: c.memoryMB } : {}),
      ...(c.macPolicy !== undefined ? { macPolicy: c.macPolicy } : {}),
      ...(c.subnetMask !== undefined ? { subnetMask: c.subnetMask } : {}),
    },
    ...(c.minIntervalSeconds !== undefined ? { minIntervalMs: c.minIntervalSeconds * 1000 } : {}),
    ...(c.cbtGranularityBytes !== undefined ? { granularityBytes: c.cbtGranularityBytes } : {}),
    ...(c.quiesce !== undefined ? { quiesce: c.quiesce } : {}),
    ...(c.taskTimeoutSeconds !== undefined ? { taskTimeoutMs: c.taskTimeoutSeconds * 1000 } : {}),
    ...(c.requestTimeoutSeconds !== undefined ? { requestTimeoutMs: c.requestTimeoutSeconds * 1000 } : {}),
  };
}
