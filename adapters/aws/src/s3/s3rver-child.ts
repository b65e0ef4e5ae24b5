// The child process behind `startS3rver`: runs s3rver (an S3-protocol server) on an ephemeral loopback
// port over a folder, prints `{"port":N}` once it listens, and exits when its parent closes stdin (so it
// never outlives the test or benchmark that started it). Node must be started with
// --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES.
import S3rver from 's3rver';

async function main(directory: string, buckets: string[]): Promise<void> {
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const address = await server.run();
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

main(process.argv[2], (process.argv[3] ?? '').split(',').filter((b) => b !== '')).catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
