/** BullMQ queue names. Job payloads carry identifiers only, never patient data. */
export const QueueName = {
  indexInstance: 'index-instance',
  studyStable: 'study-stable',
  maintenance: 'maintenance',
  quality: 'quality',
  classify: 'classify',
  reclassify: 'reclassify',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];
