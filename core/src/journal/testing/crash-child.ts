// Child process of the kill -9 test: appends the deterministic workload to a file-backed journal as
// fast as it can, cutting a checkpoint every few writes, and prints each checkpoint once it is durable.
// The parent kills it at a random moment.
import { Journal } from '../journal.js';
import { crashJournalOptions, crashWrite } from './crash-workload.js';

async function main(dir: string, seed: number): Promise<void> {
  const journal = await Journal.open(crashJournalOptions(dir));
  let seq = journal.lastSeq;
  let n = 0;
  for (;;) {
    const batch = 1 + ((seed + n++) % 7);
    const writes = Array.from({ length: batch }, () => crashWrite(++seq));
    await journal.appendMany(writes);
    if (n % 3 === 0) {
      const id = `cp-${seq}`;
      await journal.addCheckpoint({ id, groupId: 'g-crash', seq, timestamp: Date.now(), kind: 'auto' });
      process.stdout.write(`CP ${id} ${seq}\n`);
    }
  }
}

main(process.argv[2], Number(process.argv[3])).catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
