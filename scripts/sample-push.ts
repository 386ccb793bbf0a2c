/**
 * Pushes a few synthetic studies (CT, DR, MR; Chinese names in GB18030 and UTF-8) to a running
 * gateway so a newcomer sees QIDO results at once. `npm run sample:push [-- http://host:8080]`.
 */
import { makeInstance, randomUid, type MakeInstanceOptions } from '../test/support/dicom-factory';
import { multipartBody } from '../test/support/gateway';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const base = (process.argv[2] ?? process.env.HUREN_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');

/**
 * The credential to push with (docs/security.md): HUREN_TOKEN (a `pacs` key), else a dev key made
 * once with the admin token `npm start` keeps in ./data/secrets/admin-token, cached beside it.
 */
let cachedToken: string | undefined;
async function token(): Promise<string> {
  if (cachedToken) return cachedToken;
  if (process.env.HUREN_TOKEN) return (cachedToken = process.env.HUREN_TOKEN);
  const secrets = path.resolve(process.env.HUREN_DATA_DIR ?? './data', 'secrets');
  const devFile = path.join(secrets, 'dev-pacs-token');
  if (existsSync(devFile)) return (cachedToken = readFileSync(devFile, 'utf8').trim());
  const adminFile = path.join(secrets, 'admin-token');
  const admin = process.env.HUREN_ADMIN_TOKEN ?? (existsSync(adminFile) ? readFileSync(adminFile, 'utf8').trim() : undefined);
  if (!admin) throw new Error('Set HUREN_TOKEN to a key with the pacs role / 请设置 HUREN_TOKEN（pacs 角色的凭据）');
  const res = await fetch(`${base}/admin/credentials`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'dev sample push (npm run sample:push)', roles: ['pacs', 'viewer'] }),
  });
  if (res.status !== 201) throw new Error(`Could not create a dev credential: ${res.status} ${await res.text()}`);
  cachedToken = ((await res.json()) as { token: string }).token;
  mkdirSync(secrets, { recursive: true, mode: 0o700 });
  writeFileSync(devFile, cachedToken, { mode: 0o600 });
  return cachedToken;
}
const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');

interface SampleStudy {
  label: string;
  series: Array<{ count: number; opts: MakeInstanceOptions }>;
}

const samples: SampleStudy[] = [
  {
    label: 'CT 胸部平扫 / chest CT (GB18030 name 张伟)',
    series: [
      {
        count: 24,
        opts: {
          modality: 'CT',
          patientName: '张伟',
          patientId: 'SAMPLE-001',
          charset: 'GB18030',
          studyDescription: '胸部CT平扫',
          bodyPartExamined: 'CHEST',
          rows: 256,
          columns: 256,
        },
      },
    ],
  },
  {
    label: 'DR 胸部正侧位 / chest PA + lateral',
    series: [
      {
        count: 1,
        opts: {
          modality: 'DX',
          patientName: 'LI^NA',
          patientId: 'SAMPLE-002',
          studyDescription: 'DX CHEST PA/LAT',
          bodyPartExamined: 'CHEST',
          rows: 512,
          columns: 512,
          extra: { ViewPosition: 'PA' },
        },
      },
      {
        count: 1,
        opts: {
          modality: 'DX',
          patientName: 'LI^NA',
          patientId: 'SAMPLE-002',
          studyDescription: 'DX CHEST PA/LAT',
          bodyPartExamined: 'CHEST',
          rows: 512,
          columns: 512,
          extra: { ViewPosition: 'LL' },
        },
      },
    ],
  },
  {
    label: 'MR 腰椎平扫 / lumbar spine MR (UTF-8 name 王芳)',
    series: [
      {
        count: 12,
        opts: {
          modality: 'MR',
          patientName: '王芳',
          patientId: 'SAMPLE-003',
          charset: 'ISO_IR 192',
          studyDescription: '腰椎MRI平扫',
          bodyPartExamined: 'LSPINE',
          extra: { SeriesDescription: 'T2_TSE_SAG' },
        },
      },
      {
        count: 12,
        opts: {
          modality: 'MR',
          patientName: '王芳',
          patientId: 'SAMPLE-003',
          charset: 'ISO_IR 192',
          studyDescription: '腰椎MRI平扫',
          bodyPartExamined: 'LSPINE',
          extra: { SeriesDescription: 'T1_TSE_SAG' },
        },
      },
    ],
  },
];

async function push(study: SampleStudy, index: number): Promise<void> {
  const studyInstanceUid = randomUid();
  const instances = study.series.flatMap((s, seriesIndex) => {
    const seriesInstanceUid = randomUid();
    return Array.from({ length: s.count }, (_, i) =>
      makeInstance({ ...s.opts, studyInstanceUid, seriesInstanceUid, seriesNumber: seriesIndex + 1, instanceNumber: i + 1, studyDate: today }),
    );
  });
  const { body, contentType } = multipartBody(instances);
  const res = await fetch(`${base}/dicomweb/studies`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': contentType, Authorization: `Bearer ${await token()}` },
  });
  process.stdout.write(`[${index + 1}/${samples.length}] ${study.label}: ${instances.length} instances → HTTP ${res.status}\n`);
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
}

async function main(): Promise<void> {
  console.log(`Pushing ${samples.length} sample studies to ${base} / 正在推送示例检查`);
  for (const [i, s] of samples.entries()) await push(s, i);
  console.log(
    [
      '\nDone / 完成. Query them with the same key / 用同一凭据查询:',
      `  export HUREN_TOKEN=${process.env.HUREN_TOKEN ? '$HUREN_TOKEN' : `$(cat ${path.resolve(process.env.HUREN_DATA_DIR ?? './data', 'secrets', 'dev-pacs-token')})`}`,
      `  curl -H "Authorization: Bearer $HUREN_TOKEN" '${base}/dicomweb/studies?PatientID=SAMPLE-*'`,
      `  curl -H "Authorization: Bearer $HUREN_TOKEN" '${base}/dicomweb/studies?PatientName=${encodeURIComponent('*张*')}'`,
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(`Sample push failed / 推送失败: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
