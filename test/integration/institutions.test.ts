import iconv from 'iconv-lite';
import { makeDataset, makeInstance, randomUid, TS, writePart10 } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';
import { CSV_COLUMNS } from '../../core/recognition/institutions-csv';

/**
 * The institution registry over HTTP (CRUD, CSV import/export) and attribution of STOWed
 * studies at index time, on the real gateway, worker, PostgreSQL and Redis.
 */
describe('institution registry and sender attribution', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const res = await gw.fetch(`${gw.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': contentType },
      body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined;
    return { status: res.status, json, text, headers: res.headers };
  };

  const hospital = {
    name: '浙江省示例人民医院',
    region: 'ZJ',
    level: 'L3A',
    aliases: { institutionNames: ['浙江省示例人民医院', 'Zhejiang Example Hospital'], aeTitles: ['ZJEX_CT'], issuersOfPatientId: ['ZJEX'] },
    groups: [{ code: 'ZJ-YLT-1', name: '杭州示例医联体', kind: 'medical_alliance' }],
    accreditations: [{ catalogId: 'zhejiang-2021', modality: 'CT', validFrom: '2025-01-01', validUntil: '2027-12-31', issuer: '浙江省质控中心' }],
  };

  async function stow(...instances: Buffer[]): Promise<void> {
    const { body, contentType } = multipartBody(instances);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
  }

  /** A CT instance whose file meta names the AE that wrote it. */
  function withSourceAe(ae: string, study: string): Buffer {
    const { dataset, frames } = makeDataset({ studyInstanceUid: study, patientId: 'AE-PAT' });
    const pixels = Buffer.concat(frames);
    dataset.PixelData = pixels.buffer.slice(pixels.byteOffset, pixels.byteOffset + pixels.byteLength);
    dataset._vrMap = { PixelData: 'OW' };
    return writePart10({ dataset, transferSyntaxUid: TS.explicitLittleEndian, meta: { SourceApplicationEntityTitle: ae } });
  }

  const studyRow = (uid: string) => gw.core.db('study').where({ study_instance_uid: uid }).first('sending_institution_code', 'source_ae_title', 'patient_id');

  describe('CRUD', () => {
    it('creates (201), reads, replaces (200) and lists an institution', async () => {
      const created = await call('PUT', '/admin/institutions/ZJEX-001', hospital);
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({ created: true, reattributedStudies: 0 });
      expect(created.json.institution).toMatchObject({
        code: 'ZJEX-001',
        kind: 'hospital',
        isPublic: true,
        aliases: { institutionNames: ['zhejiang example hospital', '浙江省示例人民医院'], aeTitles: ['ZJEX_CT'], issuersOfPatientId: ['ZJEX'] },
        groups: hospital.groups,
        accreditations: hospital.accreditations,
      });

      const read = await call('GET', '/admin/institutions/ZJEX-001');
      expect(read.status).toBe(200);
      expect(read.json).toEqual(created.json.institution);

      const replaced = await call('PUT', '/admin/institutions/ZJEX-001', { ...hospital, code: 'ZJEX-001', isPublic: false, accreditations: [] });
      expect(replaced.status).toBe(200);
      expect(replaced.json.institution).toMatchObject({ isPublic: false, accreditations: [] });

      await call('PUT', '/admin/institutions/XJEX-001', { name: '新疆示例医院', region: 'XJ', level: 'L2A' });
      const zj = await call('GET', '/admin/institutions?region=ZJ');
      expect(zj.json.institutions.map((i: { code: string }) => i.code)).toEqual(['ZJEX-001']);
      const group = await call('GET', '/admin/institutions?group=ZJ-YLT-1');
      expect(group.json.institutions.map((i: { code: string }) => i.code)).toEqual(['ZJEX-001']);
      const all = await call('GET', '/admin/institutions');
      expect(all.json.institutions.map((i: { code: string }) => i.code)).toEqual(['XJEX-001', 'ZJEX-001']);
    });

    it('answers 400 with bilingual messages for bad input', async () => {
      const bad = await call('PUT', '/admin/institutions/ZJEX-002', {
        ...hospital,
        region: 'BJ',
        colour: 'red',
        accreditations: [{ ...hospital.accreditations[0], validFrom: '2025-13-01' }],
      });
      expect(bad.status).toBe(400);
      expect(bad.json.code).toBe('invalid_body');
      expect(bad.json.details.errors).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^region: 应为 CY、XJ、ZJ 之一 \/ must be one of CY, XJ, ZJ$/),
          expect.stringContaining('colour'),
          expect.stringMatching(/^accreditations\.0\.validFrom: .*YYYY-MM-DD/),
        ]),
      );
      expect((await call('PUT', '/admin/institutions/bad%20code', hospital)).json.code).toBe('invalid_path');
      expect((await call('PUT', '/admin/institutions/ZJEX-002', { ...hospital, code: 'OTHER' })).json.code).toBe('code_mismatch');
      expect((await call('PUT', '/admin/institutions/ZJEX-002', '{"name": ', 'application/json')).json).toMatchObject({ status: 400, code: 'invalid_json' });
      expect((await call('PUT', '/admin/institutions/ZJEX-002', 'name=x', 'application/x-www-form-urlencoded')).status).toBe(415);
      expect((await call('GET', '/admin/institutions?region=Mars')).json.code).toBe('invalid_query');
      expect((await call('DELETE', '/admin/institutions/ZJEX-001?detachStudies=maybe')).json.code).toBe('invalid_query');
    });

    it('answers 404 for an unknown institution and 409 for an alias another institution holds', async () => {
      const missing = await call('GET', '/admin/institutions/NOPE');
      expect(missing.status).toBe(404);
      expect(missing.json.message).toMatch(/未找到机构 NOPE \/ No institution with code NOPE/);
      expect((await call('DELETE', '/admin/institutions/NOPE')).status).toBe(404);

      const clash = await call('PUT', '/admin/institutions/ZJEX-002', { ...hospital, aliases: { institutionNames: ['ZHEJIANG  EXAMPLE HOSPITAL'] } });
      expect(clash.status).toBe(409);
      expect(clash.json.code).toBe('alias_conflict');
      expect(clash.json.details.conflicts).toEqual([{ kind: 'institution_name', value: 'zhejiang example hospital', institutionCode: 'ZJEX-001' }]);
      expect((await call('GET', '/admin/institutions/ZJEX-002')).status).toBe(404);
    });
  });

  describe('CSV', () => {
    const header = CSV_COLUMNS.join(',');
    const good = [
      header,
      'CY-001,成都示例医院,川渝,三级甲等,医院,是,成都示例医院,CDEX_MR,,CY-YLT|成都示例医联体|医联体,chuanyu-2025|MR|2025-03-01',
      'CY-002,重庆示例医院,川渝,二级甲等,,否,重庆示例医院,,CQEX,CY-YLT|成都示例医联体|医联体,',
    ].join('\r\n');

    it('dry-runs an import: exact counts, nothing stored', async () => {
      const res = await call('POST', '/admin/institutions/import?dryRun=true', good, 'text/csv');
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ dryRun: true, institutions: 2, created: 2, updated: 0, reattributedStudies: 0 });
      expect((await call('GET', '/admin/institutions/CY-001')).status).toBe(404);
    });

    it('refuses a file with any invalid row, reporting rows, and imports nothing', async () => {
      const bad = `${good}\r\nCY-003,坏行,川渝,五级,,,,,,,\r\nCY-004,别名冲突,川渝,L1,,,浙江省示例人民医院,,,,`;
      const res = await call('POST', '/admin/institutions/import', bad, 'text/csv');
      expect(res.status).toBe(400);
      expect(res.json.code).toBe('csv_invalid');
      expect(res.json.message).toMatch(/未导入任何数据 \/ .*nothing was imported/);
      expect(res.json.details.errors).toEqual([{ row: 4, column: 'level', message: expect.stringContaining('三级甲等') }]);
      expect((await call('GET', '/admin/institutions/CY-001')).status).toBe(404);

      // Checked against the database once the file itself is valid: an alias held outside the file.
      const conflict = await call('POST', '/admin/institutions/import', `${good}\r\nCY-004,别名冲突,川渝,L1,,,浙江省示例人民医院,,,,`, 'text/csv');
      expect(conflict.status).toBe(400);
      expect(conflict.json.details.errors).toEqual([{ row: 4, column: 'institution_name', message: expect.stringContaining('ZJEX-001') }]);
      expect((await call('GET', '/admin/institutions/CY-001')).status).toBe(404);
    });

    it('imports, then exports what it imported', async () => {
      const res = await call('POST', '/admin/institutions/import', good, 'text/csv');
      expect(res.json).toEqual({ dryRun: false, institutions: 2, created: 2, updated: 0, reattributedStudies: 0 });
      expect((await call('GET', '/admin/institutions/CY-002')).json).toMatchObject({
        level: 'L2A',
        isPublic: false,
        aliases: { issuersOfPatientId: ['CQEX'] },
      });
      const again = await call('POST', '/admin/institutions/import', good, 'text/csv');
      expect(again.json).toMatchObject({ created: 0, updated: 2 });

      const exported = await call('GET', '/admin/institutions/export');
      expect(exported.status).toBe(200);
      expect(exported.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
      expect(exported.headers.get('content-disposition')).toMatch(/attachment; filename="?institutions\.csv"?/);
      const lines = exported.text
        .replace(/^\uFEFF/, '')
        .trim()
        .split('\r\n');
      expect(lines[0]).toBe(header);
      expect(lines).toContain(
        'CY-001,成都示例医院,CY,L3A,hospital,true,成都示例医院,CDEX_MR,,CY-YLT|成都示例医联体|medical_alliance,chuanyu-2025|MR|2025-03-01',
      );
      const roundTrip = await call('POST', '/admin/institutions/import?dryRun=true', exported.text, 'text/csv');
      expect(roundTrip.json).toMatchObject({ created: 0, updated: 4 });
    });

    it('reads GB18030 when the charset says so, and refuses undeclared non-UTF-8 text', async () => {
      const text = `${header}\r\nCY-005,绵阳示例医院,川渝,二级乙等,,,,,,,`;
      const gb = iconv.encode(text, 'gb18030');
      const undeclared = await call('POST', '/admin/institutions/import?dryRun=true', gb, 'text/csv');
      expect(undeclared.status).toBe(400);
      expect(undeclared.json.code).toBe('csv_not_utf8');
      const declared = await call('POST', '/admin/institutions/import?dryRun=true', gb, 'text/csv; charset=gb18030');
      expect(declared.json).toMatchObject({ created: 1 });
      expect((await call('POST', '/admin/institutions/import', text, 'application/json')).status).toBe(415);
    });
  });

  describe('attribution of STOWed studies', () => {
    const byName = randomUid();
    const byIssuer = randomUid();
    const byAe = randomUid();
    const unknown = randomUid();

    beforeAll(async () => {
      await stow(
        makeInstance({ studyInstanceUid: byName, patientId: 'N-1', extra: { InstitutionName: 'ZHEJIANG   example hospital ' } }),
        makeInstance({ studyInstanceUid: byIssuer, patientId: 'I-1', extra: { IssuerOfPatientID: 'ZJEX', InstitutionName: '某个拼写' } }),
        withSourceAe('CDEX_MR', byAe),
        makeInstance({ studyInstanceUid: unknown, patientId: 'U-1', extra: { InstitutionName: '绍兴示例医院', IssuerOfPatientID: 'SXEX' } }),
      );
      await Promise.all([byName, byIssuer, byAe, unknown].map((s) => gw.waitForIndexed(s, 1)));
    });

    it('attributes by normalised InstitutionName, by IssuerOfPatientID and by the source AE title', async () => {
      expect(await studyRow(byName)).toMatchObject({ sending_institution_code: 'ZJEX-001', source_ae_title: null });
      expect(await studyRow(byIssuer)).toMatchObject({ sending_institution_code: 'ZJEX-001', patient_id: 'I-1' });
      expect(await studyRow(byAe)).toMatchObject({ sending_institution_code: 'CY-001', source_ae_title: 'CDEX_MR' });
    });

    it('keeps an unattributed study, lists it for an operator, and attributes it when an alias is added', async () => {
      expect(await studyRow(unknown)).toMatchObject({ sending_institution_code: null, patient_id: 'U-1' });
      const listed = await call('GET', '/admin/studies/unattributed');
      expect(listed.status).toBe(200);
      expect(listed.json).toEqual({
        totalStudies: 1,
        senders: [
          {
            institutionName: '绍兴示例医院',
            sourceAeTitle: null,
            issuerOfPatientId: 'SXEX',
            studies: 1,
            lastReceivedAt: expect.any(String),
            exampleStudyInstanceUids: [unknown],
          },
        ],
      });

      const added = await call('PUT', '/admin/institutions/ZJ-SX-001', {
        name: '绍兴示例医院',
        region: 'ZJ',
        level: 'L2A',
        aliases: { institutionNames: ['绍兴示例医院'] },
      });
      expect(added.json).toMatchObject({ created: true, reattributedStudies: 1 });
      expect(await studyRow(unknown)).toMatchObject({ sending_institution_code: 'ZJ-SX-001' });
      expect((await call('GET', '/admin/studies/unattributed')).json).toEqual({ totalStudies: 0, senders: [] });
    });

    it('refuses to delete an institution with studies unless they are detached, which flags them again', async () => {
      const refused = await call('DELETE', '/admin/institutions/ZJ-SX-001');
      expect(refused.status).toBe(409);
      expect(refused.json).toMatchObject({ code: 'institution_has_studies', details: { attributedStudies: 1 } });

      const deleted = await call('DELETE', '/admin/institutions/ZJ-SX-001?detachStudies=true');
      expect(deleted.json).toEqual({ code: 'ZJ-SX-001', deleted: true, detachedStudies: 1 });
      expect(await studyRow(unknown)).toMatchObject({ sending_institution_code: null });
      expect((await call('GET', '/admin/studies/unattributed')).json.totalStudies).toBe(1);
      expect(await gw.core.db('institution_alias').where({ institution_code: 'ZJ-SX-001' })).toEqual([]);

      // Nothing matches now; the explicit re-run finds nothing to do.
      expect((await call('POST', '/admin/studies/unattributed/reattribute')).json).toEqual({ reattributedStudies: 0 });
    });

    it('keeps an earlier attribution when a later instance of the study matches no alias', async () => {
      await stow(makeInstance({ studyInstanceUid: byName, patientId: 'N-1', instanceNumber: 2, extra: { InstitutionName: '无名' } }));
      await gw.waitForIndexed(byName, 2);
      expect(await studyRow(byName)).toMatchObject({ sending_institution_code: 'ZJEX-001' });
    });
  });
});
