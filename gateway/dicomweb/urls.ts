import type { Request } from 'express';
import type { Config } from '../../core/config';

/** The DICOMweb root as clients reach it: HUREN_PUBLIC_URL, else the request's own origin. */
export function dicomwebBase(config: Config, req: Request): string {
  const origin = config.HUREN_PUBLIC_URL?.replace(/\/+$/, '') ?? `${req.protocol}://${req.get('host')}`;
  return `${origin}/dicomweb`;
}

export const studyUrl = (base: string, study: string) => `${base}/studies/${study}`;
export const seriesUrl = (base: string, study: string, series: string) => `${studyUrl(base, study)}/series/${series}`;
export const instanceUrl = (base: string, study: string, series: string, sop: string) => `${seriesUrl(base, study, series)}/instances/${sop}`;
