// Child process of the kill -9 test: appends the deterministic workload to a journal on the store under
// test as fast as it can, cutting a checkpoint every few writes, and prints each checkpoint once it is
// durable. The parent kills it at a random moment.
// Usage: crash-child.js <storage module URL> <storage argument as JSON> <seed>
import { Journal } from '../journal.js';
import { crashJournalOptions, crashWrite, type CrashStorageModule } from './crash-workload.js';

async function main(moduleUrl: string, storageArg: unknown, seed: number): Promise<void> {
  const mod = (await import(moduleUrl)) as CrashStorageModule;
  const journal = await Journal.open(crashJournalOptions(await mod.createCrashStorage(storageArg)));
  let seq = journal.lastSeq;
  let n = 0;
  // Several appends and markers in flight at once, as a receiver under load has them.
  const inFlight: Promise<void>[] = [];
  for (;;) {
    const batch = 1 + ((seed + n++) % 7);
    const writes = Array.from({ length: batch }, () => crashWrite(++seq));
    inFlight.push(journal.appendMany(writes));
    if (n % 3 === 0) {
      const id = `cp-${seq}`;
      const at = seq;
      inFlight.push(journal.addCheckpoint({ id, groupId: 'g-crash', seq: at, timestamp: Date.now(), kind: 'auto' }).then(() => {
        process.stdout.write(`CP ${id} ${at}\n`);
      }));
    }
    while (inFlight.length > 4) await inFlight.shift();
  }
}

main(process.argv[2], JSON.parse(process.argv[3]) as unknown, Number(process.argv[4])).catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
