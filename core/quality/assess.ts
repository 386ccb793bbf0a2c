import { checkConformance } from './checks/conformance';
import { checkCt } from './checks/ct';
import { checkDr } from './checks/dr';
import { checkItemRequirements } from './checks/item-requirements';
import { checkMr } from './checks/mr';
import { checkPatientStudy } from './checks/patient-study';
import { checkReport } from './checks/report';
import type { Check, Finding, QualityAssessment, QualityInput, QualityResult } from './types';

/**
 * Version of the rules below (checks + core/quality/requirements.ts), stored with each
 * assessment: bump it when a check or a requirement changes, so stored results can be told
 * apart and re-assessed.
 */
export const QUALITY_RULES_VERSION = '2026-11-25.1';

/** The check groups, in the order their findings are listed. */
export const CHECKS: ReadonlyArray<[group: string, check: Check]> = [
  ['patient-study', checkPatientStudy],
  ['item-requirements', checkItemRequirements],
  ['report', checkReport],
  ['dr', checkDr],
  ['ct', checkCt],
  ['mr', checkMr],
  ['conformance', checkConformance],
];

/** 'fail' if any finding fails, 'warn' if any warns, else 'pass' ('info' findings do not count). */
export function aggregate(findings: Finding[]): QualityResult {
  if (findings.some((f) => f.severity === 'fail')) return 'fail';
  if (findings.some((f) => f.severity === 'warn')) return 'warn';
  return 'pass';
}

/** Runs every check group on the study; pure (no I/O), deterministic for a given input and `now`. */
export function assessQuality(input: QualityInput): QualityAssessment {
  const findings = CHECKS.flatMap(([, check]) => check(input));
  return { result: aggregate(findings), findings };
}
