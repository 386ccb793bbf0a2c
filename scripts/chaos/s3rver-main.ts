/**
 * s3rver as a process of its own: `tsx s3rver-main.ts <port> <dir> <bucket>`. The chaos
 * harness kills it (SIGKILL) to make storage unavailable and starts it again on the same
 * port and directory, so stored objects survive as on a real S3 outage.
 */
import { mkdirSync } from 'node:fs';

interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets?: Array<{ name: string }>;
}
type S3rverCtor = new (options: S3rverOptions) => { run(): Promise<{ port: number }> };
// s3rver ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as S3rverCtor;

const [port, directory, bucket] = process.argv.slice(2);
mkdirSync(directory, { recursive: true });
new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory, configureBuckets: [{ name: bucket }] }).run().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
