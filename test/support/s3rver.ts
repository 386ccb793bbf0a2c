import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { uniqueName } from './services';

// s3rver ships no type declarations; this is the part of its API the tests use.
interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets?: Array<{ name: string }>;
}
type S3rverCtor = new (options: S3rverOptions) => { run(): Promise<{ port: number }>; close(): Promise<void> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as S3rverCtor;

/** A real S3 endpoint (s3rver) on a free loopback port, with its own temp directory. */
export async function startS3rver(buckets: string[] = []) {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'huren-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  let running = true;
  return {
    port,
    async stop() {
      if (running) await server.close();
      running = false;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Gateway settings for the S3 driver against an s3rver on `port`, with a bucket of the test's own. */
export function s3GatewayEnv(port: number): Record<string, string> {
  return {
    HUREN_STORAGE: 's3',
    S3_ENDPOINT: '127.0.0.1',
    S3_PORT: String(port),
    S3_ACCESS_KEY: 'S3RVER',
    S3_SECRET_KEY: 'S3RVER',
    S3_BUCKET: uniqueName('huren-test').replace(/_/g, '-'),
  };
}
