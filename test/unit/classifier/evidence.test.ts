import dcmjs from 'dcmjs';
import { studyEvidence } from '../../../core/recognition/evidence';
import { normalizeText } from '../../../core/recognition/classifier/normalize';
import { scan } from '../../../core/recognition/classifier/scan';
import { LEXICON, TERMS } from '../../../core/recognition/vocabulary';
import { isTargetKey } from '../../../catalogs/targets';
import { series } from './helpers';

describe('text normalisation', () => {
  it('folds full-width characters, case, punctuation and spaces', () => {
    expect(normalizeText('头颅ＭＲＩ平扫＋ＤＷＩ')).toBe('头颅mri平扫+dwi');
    expect(normalizeText('ＸＲ　ＫＮＥＥ　ＲＴ')).toBe('xr knee rt');
    expect(normalizeText('腰　椎　间盘CT')).toBe('腰椎间盘ct');
    expect(normalizeText('颈椎正侧位、双斜位')).toBe('颈椎正侧位,双斜位');
  });

  it('reads vendor abbreviations: hyphens and underscores between letters are spaces', () => {
    expect(normalizeText('MR L-SPINE W/O')).toBe('mr l spine w/o');
    expect(normalizeText('T2_TSE_SAG')).toBe('t2 tse sag');
    expect(normalizeText('CT HEAD C-')).toBe('ct head c-');
  });

  it('scans the longest term, and English terms only as whole words', () => {
    const terms = (s: string) => scan(normalizeText(s)).map((t) => t.term);
    expect(terms('腰椎间盘CT')).toEqual(['腰椎间盘', 'ct']);
    expect(terms('MR L-SPINE W/O')).toEqual(['mr', 'l spine', 'w/o']);
    expect(terms('胸部左侧位')).toEqual(['胸部', '左侧位']);
    expect(terms('pancreas')).toEqual(['pancreas']); // not 'pa'
    expect(terms('C-SP 2V')).toEqual(['c sp']);
  });
});

describe('lexicon', () => {
  it('maps body parts to catalog targets only (plus the two lexicon-only regions)', () => {
    for (const [, m] of LEXICON) {
      if (m.kind !== 'region') continue;
      const targets = [...m.targets, ...Object.values(m.byModality ?? {}).flat()];
      for (const t of targets) expect(isTargetKey(t) || t === 'head_and_neck' || t === 'abdomen_unqualified').toBe(true);
    }
  });

  it('holds every term once, normalised', () => {
    for (const term of TERMS.keys()) expect(normalizeText(term)).toBe(term);
  });
});

describe('studyEvidence', () => {
  const dr = [
    ...series(2, 1, { Modality: 'DX', StudyDescription: '右膝关节正侧位', PatientAge: '045Y', BodyPartExamined: 'KNEE', ImageLaterality: 'R' }, (i) => ({
      ViewPosition: ['AP', 'LL'][i],
    })),
  ];

  it('keeps per-series modality, texts with their tags, views with image counts and laterality', () => {
    const ev = studyEvidence(dr);
    expect(ev.textOnly).toBe(false);
    expect(ev.modalities).toEqual(['DX']);
    expect(ev.series[0].group).toBe('DR');
    expect(ev.texts).toEqual([{ tag: 'StudyDescription', value: '右膝关节正侧位', text: '右膝关节正侧位' }]);
    expect(ev.series[0].texts.map((t) => t.tag)).toEqual(['BodyPartExamined']);
    expect(ev.views).toEqual([
      { view: 'AP', images: 1, tag: 'ViewPosition', series: 0 },
      { view: 'LL', images: 1, tag: 'ViewPosition', series: 0 },
    ]);
    expect(ev.laterality).toEqual([{ tag: 'ImageLaterality', value: 'R', images: 2, series: 0 }]);
    expect(ev.ageYears).toBe(45);
  });

  it('reads contrast agents, phase words, MR series types, localizers and slice thickness', () => {
    const ev = studyEvidence([
      ...series(1, 1, { Modality: 'MR', SeriesDescription: 'AAHead_Scout', ImageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] }),
      ...series(2, 2, { Modality: 'MR', SeriesDescription: 'ep2d_diff_3scan_trace', DiffusionBValue: 1000, SliceThickness: 5 }),
      ...series(2, 3, { Modality: 'MR', SeriesDescription: 'tof_fl3d_tra' }),
      ...series(2, 4, { Modality: 'MR', SeriesDescription: 't1_se_tra +C', ContrastBolusAgent: 'Gd-DTPA', SliceThickness: 6 }),
      ...series(2, 5, { Modality: 'MR', SeriesDescription: 't2_tse_tra', ContrastBolusAgent: 'NONE' }),
    ]);
    expect(ev.series.map((s) => s.localizer)).toEqual([true, false, false, false, false]);
    expect(ev.series.map((s) => s.phase)).toEqual(['unmarked', 'unmarked', 'unmarked', 'post', 'unmarked']);
    expect(ev.mrSeriesTypes.map((t) => t.type)).toEqual(['dwi', 'tof']);
    expect(ev.contrast.agents).toEqual([{ tag: 'ContrastBolusAgent', value: 'Gd-DTPA', series: 3 }]);
    expect(ev.contrast.words.map((w) => w.term)).toEqual(['+c']);
    expect(ev.sliceThickness).toEqual({ min: 5, max: 6 });
  });

  it('takes a study-level record as text-only evidence', () => {
    const ev = studyEvidence({ ModalitiesInStudy: ['CT', 'SR'], StudyDescription: '右股骨CT平扫+三维', PatientBirthDate: '19800101', StudyDate: '20240101' });
    expect(ev.textOnly).toBe(true);
    expect(ev.modalities).toEqual(['CT', 'SR']);
    expect(ev.series).toEqual([]);
    expect(Math.floor(ev.ageYears as number)).toBe(44);
  });

  it('accepts DICOM JSON naturalized by dcmjs (procedure code sequences included)', () => {
    const json = {
      '00080060': { vr: 'CS', Value: ['CT'] },
      '0020000E': { vr: 'UI', Value: ['1.2.3.4'] },
      '00080018': { vr: 'UI', Value: ['1.2.3.4.1'] },
      '00081032': {
        vr: 'SQ',
        Value: [{ '00080100': { vr: 'SH', Value: ['CT0023'] }, '00080102': { vr: 'SH', Value: ['99HOSP'] }, '00080104': { vr: 'LO', Value: ['胸部CT平扫'] } }],
      },
      '00180050': { vr: 'DS', Value: [1.25] },
    };
    const ev = studyEvidence(dcmjs.data.DicomMetaDictionary.naturalizeDataset(json as never));
    expect(ev.procedureCodes).toEqual([{ tag: 'ProcedureCodeSequence', value: 'CT0023', scheme: '99HOSP', meaning: '胸部CT平扫' }]);
    expect(ev.texts[0]).toMatchObject({ tag: 'ProcedureCodeSequence.CodeMeaning', value: '胸部CT平扫' });
    expect(ev.sliceThickness).toEqual({ min: 1.25, max: 1.25 });
  });
});
