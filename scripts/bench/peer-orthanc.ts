/**
 * Orthanc for the side-by-side benchmark (npm run bench:peer): Debian's `orthanc` and
 * `orthanc-dicomweb` packages (installed with apt-get when missing and we are root), started
 * as a child process on a free loopback port with its own temp storage and SQLite index.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { say, sleep } from './lib';

const BINARY = '/usr/sbin/Orthanc';
const PLUGIN_DIRS = ['/usr/share/orthanc/plugins', '/usr/lib/orthanc'];

/** Installs orthanc and orthanc-dicomweb with apt-get when they are missing. */
export function ensureOrthanc(): void {
  if (existsSync(BINARY) && dicomwebPlugin()) return;
  if (process.getuid?.() !== 0) throw new Error('Orthanc is not installed: run `apt-get install -y orthanc orthanc-dicomweb` as root, then again');
  say('peer: installing orthanc and orthanc-dicomweb (apt-get)…');
  for (const args of [['update'], ['install', '-y', 'orthanc', 'orthanc-dicomweb']]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${r.status})`);
  }
  if (!existsSync(BINARY) || !dicomwebPlugin()) throw new Error('apt-get installed Orthanc but the DICOMweb plugin is not where expected');
}

function dicomwebPlugin(): string | undefined {
  for (const dir of PLUGIN_DIRS) {
    const p = path.join(dir, 'libOrthancDicomWeb.so');
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function orthancVersion(): string {
  const out = spawnSync(BINARY, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'orthanc-dicomweb'], { encoding: 'utf8' }).stdout ?? '';
  return `Orthanc ${/Orthanc\s+([\d.]+)/.exec(out)?.[1] ?? '?'}, DICOMweb plugin ${dpkg || '?'} (Debian packages)`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Orthanc {
  baseUrl: string;
  dicomweb: string;
  pid: number;
  dir: string;
  /** The settings written to its configuration, for the record. */
  settings: Record<string, unknown>;
  close(): Promise<void>;
}

/** Starts Orthanc with the DICOMweb plugin; resolves once /system answers. */
export async function startOrthanc(): Promise<Orthanc> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'huren-bench-orthanc-'));
  const storage = path.join(dir, 'storage');
  mkdirSync(storage);
  const port = await freePort();
  const settings = {
    Name: 'huren-bench-peer',
    HttpPort: port,
    StorageDirectory: storage,
    IndexDirectory: storage,
    StorageCompression: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: false,
    WebDavEnabled: false,
    SaveJobs: false,
    Plugins: [dicomwebPlugin()],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false, Host: `127.0.0.1:${port}`, Ssl: false },
  };
  writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify(settings, null, 2));
  const log = createWriteStream(path.join(dir, 'orthanc.log'));
  const child: ChildProcess = spawn(BINARY, [path.join(dir, 'orthanc.json')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${baseUrl}/system`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`Orthanc exited during start (code ${child.exitCode}); see ${dir}/orthanc.log`);
    if (Date.now() > deadline) throw new Error('Orthanc did not answer within 60 s');
    await sleep(200);
  }
  return {
    baseUrl,
    dicomweb: `${baseUrl}/dicom-web`,
    pid: child.pid!,
    dir,
    settings,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
