import pino, { type Logger } from 'pino';

/**
 * JSON logs without patient data: huren logs UIDs and hashed accession numbers only.
 * The redact list is a safety net for accidental inclusion, not the mechanism.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        '*.PatientName',
        '*.PatientID',
        '*.PatientBirthDate',
        '*.patientName',
        '*.patientId',
        '*.patient_name',
        '*.patient_id',
        '*.patient_birth_date',
        'req.headers.authorization',
        'req.headers.cookie',
      ],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
