import { normalizeAlias, normalizeCode, normalizeInstitutionName } from '../../../core/recognition/alias-normalize';
import { pickAttribution, senderKeys, type AliasKey } from '../../../core/recognition/attribution';
import { Institution } from '../../../core/recognition/institution-schema';

describe('alias normalisation', () => {
  it('folds width, spaces and case of InstitutionName', () => {
    expect(normalizeInstitutionName('  浙江大学医学院附属第一医院（本部）  ')).toBe('浙江大学医学院附属第一医院(本部)');
    expect(normalizeInstitutionName('ＺＪＵ\u3000First   Hospital')).toBe('zju first hospital');
    expect(normalizeInstitutionName('West China\tHospital')).toBe(normalizeInstitutionName('WEST  CHINA HOSPITAL'));
  });

  it('keeps the case of AE titles and issuers but folds width and padding', () => {
    expect(normalizeCode(' ＣＴ_ＡＥ1 ')).toBe('CT_AE1');
    expect(normalizeCode('pacs_ae')).toBe('pacs_ae');
    expect(normalizeAlias('ae_title', 'PACS ')).toBe('PACS');
    expect(normalizeAlias('institution_name', 'PACS ')).toBe('pacs');
  });

  it('stores aliases normalised and without duplicates', () => {
    const inst = Institution.parse({
      code: 'H1',
      name: '医院',
      region: 'ZJ',
      level: 'L3A',
      aliases: { institutionNames: ['Zhejiang  Hospital', 'ZHEJIANG HOSPITAL', '浙江医院'], aeTitles: [' ZJH_CT '], issuersOfPatientId: ['ZJH'] },
    });
    expect(inst.aliases).toEqual({ institutionNames: ['zhejiang hospital', '浙江医院'], aeTitles: ['ZJH_CT'], issuersOfPatientId: ['ZJH'] });
    expect(inst).toMatchObject({ kind: 'hospital', isPublic: true, groups: [], accreditations: [] });
  });

  it('refuses AE titles that are not DICOM AE values', () => {
    const base = { code: 'H1', name: '医院', region: 'ZJ', level: 'L3A' };
    expect(Institution.safeParse({ ...base, aliases: { aeTitles: ['A_VERY_LONG_AE_TITLE'] } }).success).toBe(false);
    expect(Institution.safeParse({ ...base, aliases: { aeTitles: ['CT\\AE'] } }).success).toBe(false);
    expect(Institution.safeParse({ ...base, aliases: { aeTitles: ['影像'] } }).success).toBe(false);
  });
});

describe('attribution priority', () => {
  const aliases = new Map<string, string>([
    ['issuer_of_patient_id\u0000ZJH', 'ISSUER-OWNER'],
    ['ae_title\u0000ZJH_CT', 'AE-OWNER'],
    ['institution_name\u0000浙江医院', 'NAME-OWNER'],
  ]);
  const lookup = (k: AliasKey) => aliases.get(`${k.kind}\u0000${k.value}`);

  it('prefers IssuerOfPatientID, then the AE title, then InstitutionName', () => {
    expect(pickAttribution({ issuerOfPatientId: 'ZJH', sourceAeTitle: 'ZJH_CT', institutionName: '浙江医院' }, lookup)).toBe('ISSUER-OWNER');
    expect(pickAttribution({ issuerOfPatientId: 'OTHER', sourceAeTitle: 'ZJH_CT', institutionName: '浙江医院' }, lookup)).toBe('AE-OWNER');
    expect(pickAttribution({ issuerOfPatientId: '', sourceAeTitle: 'NOPE', institutionName: ' 浙江医院 ' }, lookup)).toBe('NAME-OWNER');
  });

  it('answers null for an unknown or empty sender', () => {
    expect(pickAttribution({ institutionName: '别的医院' }, lookup)).toBeNull();
    expect(pickAttribution({}, lookup)).toBeNull();
    expect(senderKeys({ institutionName: '   ', sourceAeTitle: null, issuerOfPatientId: '' })).toEqual([]);
  });
});
