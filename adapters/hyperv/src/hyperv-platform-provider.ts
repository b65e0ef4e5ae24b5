// How an appliance process gets a Hyper-V platform from its configuration: the provider names the platform
// (`hyperv`), publishes the config schema the appliance validates against, and builds the session, the
// disk transport and the adapter. `dispose` ends the PowerShell session; it never touches the host's VMs.
import type { PlatformContext, PlatformInstance, PlatformProvider } from '@opencdp/core';
import { SmbPathTransport } from './disk-transport.js';
import { HYPERV_CONFIG_SCHEMA, parseHypervConfig, readRemotePassword } from './hyperv-config.js';
import { HypervHostClient } from './hyperv-host-client.js';
import { HypervHypervisor } from './hyperv-hypervisor.js';
import { PowerShellSession } from './powershell/powershell-session.js';

export interface HypervPlatformInstance extends PlatformInstance {
  hypervisor: HypervHypervisor;
  session: PowerShellSession;
}

/** Builds the platform from a configuration (checked here too: errors name the field). */
export async function createHypervPlatform(config: unknown, context: Pick<PlatformContext, 'siteId' | 'log'> & { dataDir?: string }, env: NodeJS.ProcessEnv = process.env): Promise<HypervPlatformInstance> {
  const c = parseHypervConfig(config);
  const password = c.remoteHost ? await readRemotePassword(c.remoteHost, env) : undefined;
  const session = new PowerShellSession({
    executable: c.powershell?.executable ?? 'powershell',
    ...(c.powershell?.executableOptions ? { executableOptions: c.powershell.executableOptions } : {}),
    ...(c.remoteHost ? { remote: { computerName: c.remoteHost.computerName, ...(c.remoteHost.userName ? { userName: c.remoteHost.userName } : {}), ...(password !== undefined ? { password } : {}) } } : {}),
    timeoutMs: c.commandTimeoutMs ?? 120_000,
    log: context.log,
  });
  const client = new HypervHostClient(session, new SmbPathTransport(c.transport.mappings));
  const hypervisor = new HypervHypervisor({ client, config: c, siteId: context.siteId, ...(context.dataDir ? { dataDir: context.dataDir } : {}), log: context.log });
  return { hypervisor, session, dispose: () => session.dispose() };
}

export class HypervPlatformProvider implements PlatformProvider {
  readonly platform = 'hyperv';
  readonly configSchema: Record<string, unknown> = HYPERV_CONFIG_SCHEMA as unknown as Record<string, unknown>;

  create(config: unknown, context: PlatformContext): Promise<PlatformInstance> {
    return createHypervPlatform(config, context);
  }
}
