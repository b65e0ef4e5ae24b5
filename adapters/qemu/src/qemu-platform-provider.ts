// The QEMU platform as an appliance loads it (PlatformProvider `qemu`): the config section names the
// running guests to adopt by their QMP sockets (and drives), and how recovered VMs boot. Paths must be
// absolute (the section is read far from the file it came from); sockets live in the appliance's
// private platform folder unless `workDir` says otherwise.
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError, type PlatformContext, type PlatformInstance, type PlatformProvider } from '@opencdp/core';
import { QemuPlatform } from './qemu-platform.js';
import type { QemuGuestSpec } from './qemu-guest.js';
import { assertTools } from './qemu-tools.js';
import type { VmProcessTemplate } from './vm-process.js';

export interface QemuPlatformConfig {
  workDir?: string;
  hostName?: string;
  idPrefix?: string;
  guests?: QemuGuestSpec[];
  recovery?: { vmProcess?: VmProcessTemplate; datastoreBytes?: number };
}

const absolute = { type: 'string', pattern: '^/', maxLength: 4000 } as const;

export const QEMU_PLATFORM_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    workDir: absolute,
    hostName: { type: 'string', minLength: 1, maxLength: 200 },
    idPrefix: { type: 'string', pattern: '^([a-z0-9][a-z0-9.-]{0,40}-)?$' },
    guests: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'qmp'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
          qmp: absolute,
          drives: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', pattern: '^[#A-Za-z0-9_.-]{1,128}$' } },
          nbdSocket: absolute,
        },
      },
    },
    recovery: {
      type: 'object',
      additionalProperties: false,
      properties: {
        datastoreBytes: { type: 'integer', minimum: 1 },
        vmProcess: {
          type: 'object',
          additionalProperties: false,
          properties: {
            binary: { type: 'string', minLength: 1 },
            memoryMiB: { type: 'integer', minimum: 16, maximum: 1048576 },
            cpus: { type: 'integer', minimum: 1, maximum: 256 },
            machine: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
            accel: { enum: ['auto', 'kvm', 'tcg'] },
            kernel: absolute,
            initrd: absolute,
            append: { type: 'string', maxLength: 4096 },
            extraArgs: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
} as const;

/** Room a socket name takes below the work folder (`d/qr1/nbd.sock`, `v-rvm123/qmp.sock`); UNIX sockets hold 107 bytes. */
const SOCKET_TAIL = 24;

export class QemuPlatformProvider implements PlatformProvider {
  readonly platform = 'qemu';
  readonly configSchema: Record<string, unknown> = QEMU_PLATFORM_CONFIG_SCHEMA;

  async create(config: unknown, context: PlatformContext): Promise<PlatformInstance & { hypervisor: QemuPlatform }> {
    const c = config as QemuPlatformConfig;
    const workDir = c.workDir ?? context.dataDir;
    if (Buffer.byteLength(path.join(workDir, 'x')) + SOCKET_TAIL > 107) {
      throw new ValidationError(`work folder '${workDir}' is too long for the UNIX sockets QEMU opens in it (107 bytes each)`, 'workDir', 'set workDir to a short absolute path, e.g. /run/opencdp/qemu');
    }
    const recovery = c.recovery ?? (context.roles.includes('recovery') ? {} : undefined);
    const vm = recovery?.vmProcess;
    for (const key of ['kernel', 'initrd'] as const) {
      const file = vm?.[key];
      if (file && !(await access(file, constants.R_OK).then(() => true, () => false))) {
        throw new ValidationError(`${key} '${file}' cannot be read`, `recovery.vmProcess.${key}`);
      }
    }
    assertTools([...(recovery ? ['qemu-storage-daemon', 'qemu-img'] : []), ...(vm && !vm.binary ? ['qemu-system-x86_64'] : [])]);
    const platform = await QemuPlatform.create({
      workDir, siteId: context.siteId,
      ...(c.idPrefix !== undefined ? { idPrefix: c.idPrefix } : {}),
      ...(c.hostName ? { hostName: c.hostName } : {}),
      ...(c.guests ? { guests: c.guests } : {}),
      ...(recovery ? { recovery } : {}),
      log: context.log,
    });
    return { hypervisor: platform, dispose: () => platform.dispose() };
  }
}
