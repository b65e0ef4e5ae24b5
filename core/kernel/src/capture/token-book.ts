// A group's acknowledged change-tracking tokens: per volume, the token of the newest view whose every
// changed region the recovery site acknowledged durable — the next cycle lists changes since it. A token
// is replaced only after that acknowledgement (the old one is then retired on the platform). Where the
// appliance has a data folder the book is kept in a 0600 file there (folder 0700), replaced atomically,
// so a protected appliance killed with -9 resumes from its tokens instead of comparing whole volumes.
import { promises as fs } from 'node:fs';
import { Ajv } from 'ajv';
import type { VmId, VolumeId } from '../model.js';
import { writeFileAtomic } from '../storage/atomic-file.js';

interface TokenFile {
  version: 1;
  groupId: string;
  /** Per VM: the highest sequence number of its writes the recovery site acknowledged, and its volumes' tokens. */
  vms: Record<VmId, { seq: number; volumes: Record<VolumeId, string> }>;
}

const validate = new Ajv({ strict: true }).compile<TokenFile>({
  type: 'object', additionalProperties: false, required: ['version', 'groupId', 'vms'],
  properties: {
    version: { const: 1 },
    groupId: { type: 'string', minLength: 1 },
    vms: {
      type: 'object',
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['seq', 'volumes'],
        properties: { seq: { type: 'integer', minimum: 0 }, volumes: { type: 'object', additionalProperties: { type: 'string', minLength: 1, maxLength: 4096 } } },
      },
    },
  },
});

export class TokenBook {
  private readonly vms = new Map<VmId, { seq: number; volumes: Map<VolumeId, string> }>();

  private constructor(readonly groupId: string, private readonly file: string | undefined) {}

  /**
   * The book kept in `file` (none: in memory only). A missing file is an empty book; an unreadable or
   * invalid one too, reported through `onDiscard` — the kernel then compares instead of trusting it.
   */
  static async open(groupId: string, file: string | undefined, onDiscard?: (why: string) => void): Promise<TokenBook> {
    const book = new TokenBook(groupId, file);
    if (!file) return book;
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onDiscard?.(`cannot read ${file}: ${(e as Error).message}`);
      return book;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      onDiscard?.(`${file} is not JSON: ${(e as Error).message}`);
      return book;
    }
    if (!validate(data)) {
      onDiscard?.(`${file} is not a token file: ${validate.errors?.[0]?.message ?? 'invalid'}`);
      return book;
    }
    if (data.groupId !== groupId) {
      onDiscard?.(`${file} belongs to group '${data.groupId}', not '${groupId}'`);
      return book;
    }
    for (const [vmId, vm] of Object.entries(data.vms)) book.vms.set(vmId, { seq: vm.seq, volumes: new Map(Object.entries(vm.volumes)) });
    return book;
  }

  get(vmId: VmId, volumeId: VolumeId): string | undefined {
    return this.vms.get(vmId)?.volumes.get(volumeId);
  }

  /** The highest sequence number of the VM's writes acknowledged with its tokens (0 when none). */
  seqOf(vmId: VmId): number {
    return this.vms.get(vmId)?.seq ?? 0;
  }

  /** Every VM that has tokens. */
  get vmIds(): VmId[] {
    return [...this.vms.keys()];
  }

  /** Records a volume's acknowledged token; returns the one it replaces (to retire), if any. */
  commit(vmId: VmId, volumeId: VolumeId, token: string, seq: number): string | undefined {
    let vm = this.vms.get(vmId);
    if (!vm) this.vms.set(vmId, (vm = { seq: 0, volumes: new Map() }));
    vm.seq = Math.max(vm.seq, seq);
    const old = vm.volumes.get(volumeId);
    vm.volumes.set(volumeId, token);
    return old !== token ? old : undefined;
  }

  forgetVm(vmId: VmId): void {
    this.vms.delete(vmId);
  }

  forgetVolume(vmId: VmId, volumeId: VolumeId): void {
    this.vms.get(vmId)?.volumes.delete(volumeId);
  }

  /** Writes the book to its file (owner-only), replacing the old one atomically; a no-op without a file. */
  async save(): Promise<void> {
    if (!this.file) return;
    const data: TokenFile = {
      version: 1, groupId: this.groupId,
      vms: Object.fromEntries([...this.vms].map(([vmId, vm]) => [vmId, { seq: vm.seq, volumes: Object.fromEntries(vm.volumes) }])),
    };
    await writeFileAtomic(this.file, `${JSON.stringify(data, null, 2)}\n`, 0o600, 0o700);
  }
}
