/**
 * zod issues as one bilingual line each ("field: 中文 / English"): hospital staff read these
 * in the admin UI and in CSV import reports. Refinements carry their own bilingual message.
 */
import type { z } from 'zod';

export function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  return field + issueText(issue);
}

export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map(describeIssue);
}

export function issueText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `缺少或类型错误（应为 ${issue.expected}）/ missing or of the wrong type (expected ${issue.expected})`;
    case 'invalid_value':
      return `应为 ${issue.values.map(String).join('、')} 之一 / must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return '不能为空 / must not be empty';
      return `过小或过短（至少 ${issue.minimum}）/ too small or too short (at least ${issue.minimum})`;
    case 'too_big':
      return `过大或过长（至多 ${issue.maximum}）/ too large or too long (at most ${issue.maximum})`;
    case 'invalid_format':
      if (issue.format === 'date') return '日期格式应为 YYYY-MM-DD / must be a date YYYY-MM-DD';
      // Patterns carry their own bilingual message.
      return issue.format === 'regex' ? issue.message : `格式无效 / invalid format (${issue.format})`;
    case 'unrecognized_keys':
      return `未知字段 ${issue.keys.join('、')} / unknown field(s) ${issue.keys.join(', ')}`;
    case 'custom':
      return issue.message;
    default:
      return `无效 / invalid (${issue.message})`;
  }
}
