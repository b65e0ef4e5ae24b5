// How an appliance process gets its platform without knowing it: every adapter package binds a
// `PlatformProvider` in its ContainerModule (named in its package.json `opencdp.containerModule`), and the
// appliance loads the package named by its config, validates the adapter's own config section against
// the provider's schema, and asks it for the hypervisor (and, where the platform has it, the storage).
import type { Clock } from '../clock.js';
import type { HypervisorAdapter } from './hypervisor-adapter.js';
import type { StorageAdapter } from './storage-adapter.js';

// A registered symbol: a vendor's package loaded from a path may resolve its own copy of @opencdp/core,
// and its binding must still be found under the same key.
export const PlatformProvider = Symbol.for('@opencdp/core:PlatformProvider');

export type PlatformRole = 'protected' | 'recovery';

export interface PlatformContext {
  /** The roles this appliance process plays (a managed appliance may play both). */
  roles: readonly PlatformRole[];
  siteId: string;
  /** A 0700 folder private to this adapter inside the appliance's data folder, for its state files. */
  dataDir: string;
  clock: Clock;
  log: (event: string, fields: Record<string, unknown>) => void;
}

export interface PlatformInstance {
  /** The platform's VMs: protected VMs are split or tracked here, recovery VMs are created here. */
  hypervisor: HypervisorAdapter;
  /**
   * Where the recovery role keeps journals and replica volumes on this platform (e.g. S3). Absent: the
   * appliance's default storage (local files under its data folder).
   */
  recoveryStorage?: StorageAdapter;
  /** Stops what `create` started (sessions, child processes, servers); never deletes the user's VMs. */
  dispose(): Promise<void>;
}

export interface PlatformProvider {
  /** The name an appliance config uses in `platform.name`, e.g. `fake`, `qemu`, `vsphere`. */
  readonly platform: string;
  /**
   * JSON Schema (draft 2020-12 subset that ajv accepts) of the adapter's config section; the appliance
   * validates against it and refuses a config whose errors name the field. Secrets are never in it:
   * adapters read them from an environment variable or a 0600 file the section names.
   */
  readonly configSchema: Record<string, unknown>;
  /**
   * Connects to the platform with a config that passed `configSchema`. A ValidationError names its field
   * relative to the section (`vms.0.name`); the appliance prefixes the section's own path. On failure
   * nothing it started is left running.
   */
  create(config: unknown, context: PlatformContext): Promise<PlatformInstance>;
}
