// The checkpoint barrier's hold on guest writes: while held, a write that was stamped completes only on
// release, so no write that completes before another is issued can land after a marker while the other
// lands before it. Splitter-fed groups (in-process or on an appliance) hold one while they cut.
import { ValidationError } from '../errors.js';

export class WriteGate {
  private gate?: { promise: Promise<void>; open: () => void };

  constructor(private readonly groupId: string) {}

  get held(): boolean {
    return this.gate !== undefined;
  }

  /** Holds the completion of every write from now on, until `release`; one cut at a time. */
  hold(): void {
    if (this.gate) throw new ValidationError(`a checkpoint of group '${this.groupId}' is already being cut`);
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  release(): void {
    const gate = this.gate;
    this.gate = undefined;
    gate?.open();
  }

  /** Resolves once no hold is in place (a write waits here before it completes). */
  async passed(): Promise<void> {
    while (this.gate) await this.gate.promise;
  }
}
