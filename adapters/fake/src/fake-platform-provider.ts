// The fake data centre as an appliance platform (PlatformProvider `fake`): one site named after the
// appliance's, one host, the configured VMs with zeroed volumes, on the appliance's clock. It is the
// embedded default of `opencdp appliance start` and `serve`, so the demo runs with nothing installed.
import { ValidationError, type PlatformContext, type PlatformInstance, type PlatformProvider } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { FakeHypervisor } from './fake-hypervisor.js';

export interface FakePlatformConfig {
  /** The site's VMs; ids follow creation order, so the same config gives the same ids after a restart. */
  vms?: { name: string; volumes: { sizeBytes: number; sectorSize?: number }[] }[];
  /**
   * Prefix of every id the data centre hands out (default: the appliance's site id), so two sites never
   * hand out the same VM or volume id. `''` for no prefix.
   */
  idPrefix?: string;
  /** Seed of the data centre's randomness (default 1). */
  seed?: number;
  /**
   * How the platform captures writes: `splitter` (only a write tap), `change-tracking` (only frozen views
   * and changed regions, as vSphere, Hyper-V or EBS offer) or `both` (default; the kernel then splits).
   */
  capture?: 'splitter' | 'change-tracking' | 'both';
}

const SECTOR_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

export const FAKE_PLATFORM_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    vms: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'volumes'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
          volumes: {
            type: 'array',
            minItems: 1,
            maxItems: 16,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['sizeBytes'],
              properties: { sizeBytes: { type: 'integer', minimum: 1 }, sectorSize: { enum: SECTOR_SIZES } },
            },
          },
        },
      },
    },
    idPrefix: { type: 'string', pattern: '^([a-z0-9][a-z0-9.-]{0,62})?$' },
    seed: { type: 'integer' },
    capture: { enum: ['splitter', 'change-tracking', 'both'] },
  },
} as const;

export class FakePlatformProvider implements PlatformProvider {
  readonly platform = 'fake';
  readonly configSchema: Record<string, unknown> = FAKE_PLATFORM_CONFIG_SCHEMA;

  async create(config: unknown, context: PlatformContext): Promise<PlatformInstance & { hypervisor: FakeHypervisor }> {
    const c = config as FakePlatformConfig;
    const names = new Set<string>();
    (c.vms ?? []).forEach((vm, i) => {
      if (names.has(vm.name)) throw new ValidationError(`VM name '${vm.name}' is used twice`, `vms.${i}.name`, 'VM names must be unique');
      names.add(vm.name);
      vm.volumes.forEach((v, j) => {
        const sector = v.sectorSize ?? 512;
        if (v.sizeBytes % sector !== 0) throw new ValidationError(`volume size ${v.sizeBytes} is not a multiple of its ${sector}-byte sector`, `vms.${i}.volumes.${j}.sizeBytes`);
      });
    });
    const dc = new FakeDataCenter({ clock: context.clock, seed: c.seed ?? 1, idPrefix: c.idPrefix ?? context.siteId });
    try {
      const site = dc.addSite(context.siteId);
      const host = dc.addHost(site.id, 'host-1');
      for (const spec of c.vms ?? []) {
        dc.createVm({
          name: spec.name, hostId: host.id,
          volumes: spec.volumes.map((v, i) => ({ name: `${spec.name}-disk${i}`, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize ?? 512 })),
        });
      }
      return { hypervisor: new FakeHypervisor(dc, site.id, c.capture ? { capture: c.capture } : {}), dispose: async () => dc.dispose() };
    } catch (e) {
      dc.dispose();
      throw e;
    }
  }
}
