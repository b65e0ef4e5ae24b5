// What the adapter remembers about its views and the RCT reference points they became, so that a token
// (which names a view and a volume) can be turned into the RCT id Hyper-V knows, and reference points can be
// destroyed once the kernel retires their tokens. Hyper-V gives RCT ids only when a checkpoint is converted,
// after the view's token was handed out — hence this mapping. Kept in a 0600 file in the adapter's data
// folder (written atomically) when it has one; a lost file costs a delta sync (ChangeTokenLostError), never a gap.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface RctViewRecord {
  viewName: string;
  vmId: string;
  checkpointId: string;
  /** volume id → the checkpoint's frozen VHDX (host path). */
  disks: Record<string, string>;
  /** Set once the checkpoint became a reference point. */
  referencePoint?: string;
  /** volume id → RCT id of the reference point. */
  rct?: Record<string, string>;
  /** Volumes whose token the kernel retired. */
  retired: string[];
  createdAt: number;
}

export class RctTokenStore {
  private records = new Map<string, RctViewRecord>();
  private loaded = false;
  private writing: Promise<void> = Promise.resolve();

  /** `file` undefined: memory only. */
  constructor(private readonly file?: string) {}

  async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    if (!this.file) return;
    const text = await fs.readFile(this.file, 'utf8').catch(() => undefined);
    if (!text) return;
    try {
      for (const r of JSON.parse(text) as RctViewRecord[]) this.records.set(r.viewName, r);
    } catch {
      // A damaged file: forget it; tokens it named will be reported lost (a delta sync), not guessed.
      this.records.clear();
    }
  }

  get(viewName: string): RctViewRecord | undefined {
    return this.records.get(viewName);
  }

  byCheckpoint(checkpointId: string): RctViewRecord | undefined {
    return [...this.records.values()].find((r) => r.checkpointId.toLowerCase() === checkpointId.toLowerCase());
  }

  forVm(vmId: string): RctViewRecord[] {
    return [...this.records.values()].filter((r) => r.vmId === vmId).sort((a, b) => a.createdAt - b.createdAt);
  }

  async put(record: RctViewRecord): Promise<void> {
    this.records.set(record.viewName, record);
    await this.save();
  }

  async delete(viewName: string): Promise<void> {
    this.records.delete(viewName);
    await this.save();
  }

  private save(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const data = JSON.stringify([...this.records.values()]);
    this.writing = this.writing.then(async () => {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.tmp`;
      await fs.writeFile(tmp, data, { mode: 0o600 });
      await fs.rename(tmp, file);
    });
    return this.writing;
  }
}
