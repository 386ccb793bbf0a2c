/**
 * 调阅 recorded from WADO-RS itself: a retrieve or metadata request under /studies/{study}
 * that carries a reminder id (`?reminder=<uuid>`, as the links in a reminder answer do, or the
 * header `X-Huren-Reminder`) records one `viewed` event for (reminder, study). The retrieve
 * never waits for it and never fails because of it: the event is written after the request
 * has moved on, errors are only logged, and a pair that is not a reminded prior is skipped
 * silently (core/recognition/reminders.ts recordRetrieveView).
 */
import type { RequestHandler } from 'express';
import { isUid } from '../../core/dicom/uid';
import { isReminderId, recordRetrieveView } from '../../core/recognition/reminders';
import type { GatewayDeps } from '../deps';

/** Pairs already handled by this process (recorded, or found not to be a reminded prior). */
const REMEMBERED = 10_000;

export function recordViewing(deps: GatewayDeps): RequestHandler {
  const handled = new Set<string>();
  const remember = (key: string) => {
    handled.add(key);
    if (handled.size > REMEMBERED) handled.delete(handled.values().next().value as string);
  };

  return (req, _res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const fromQuery = req.query.reminder;
    const reminderId = typeof fromQuery === 'string' ? fromQuery : req.get('x-huren-reminder');
    const study = req.params.study;
    if (!reminderId || !isReminderId(reminderId) || typeof study !== 'string' || !isUid(study)) return next();
    const key = `${reminderId.toLowerCase()} ${study}`;
    if (!handled.has(key)) {
      // Remembered before the write finishes: the requests of one retrieve arrive together.
      remember(key);
      recordRetrieveView(deps.db, reminderId, study).catch((err: Error) => {
        handled.delete(key);
        deps.logger.error({ err: err.message, reminderId, studyInstanceUid: study }, 'could not record 调阅 (viewed) for a WADO-RS request');
      });
    }
    next();
  };
}
