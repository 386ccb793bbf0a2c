import type { Request, RequestHandler } from 'express';
import { Transform } from 'node:stream';
import { HurenError } from '../../core/errors';
import { FailureReason } from '../../core/dicom/failure-reasons';
import { isUid } from '../../core/dicom/uid';
import { createInstanceRecorder } from '../../core/ingest/recorder';
import { UploadSession, type StoreOutcome, type UploadSessionDeps } from '../../core/ingest/upload-session';
import { enqueueIndexInstances } from '../../core/jobs/index-instance';
import type { GatewayDeps } from '../deps';
import { parseMultipartRelatedContentType, readMultipart } from './multipart';
import { dicomwebBase, instanceUrl, studyUrl } from './urls';
import { indexLagSeconds, StowAdmission } from './stow-admission';
import type { InstanceIdentity } from '../../core/ingest/record';
import { admitStow } from '../security/access';
import { auditContext, requirePrincipal } from '../security/principal';

const DICOM = 'application/dicom';
export const STORAGE_FULL_BEFORE_BODY = 'Storage is full: the request was refused before its body was read; retry later / 存储空间已满，请求未接收，请稍后重试';
/** How often admission control reads the index lag from Redis. */
const ADMISSION_POLL_MS = 50;

/**
 * PS3.18 §10.5 Store Instances: POST /studies[/{StudyInstanceUID}] with
 * multipart/related; type="application/dicom". Parts are streamed to storage one by one.
 */
export function storeInstances(deps: GatewayDeps): RequestHandler {
  const { config, db, store, queues, metrics, logger, storageFullHold: fullHold } = deps;
  const admission = new StowAdmission(
    () => indexLagSeconds(queues.indexInstance),
    { maxLagSeconds: config.HUREN_STOW_MAX_INDEX_LAG_SECONDS, maxWaitMs: config.HUREN_STOW_ADMISSION_WAIT_SECONDS * 1000, pollMs: ADMISSION_POLL_MS },
    (lag) => metrics.indexLag.set(lag),
  );
  const recorder = createInstanceRecorder(db, config.HUREN_STOW_CONFLICT_POLICY);
  /** A stored instance proves there is space again: the hold ends (said once, when it held). */
  const spaceSeen = (outcome: StoreOutcome): StoreOutcome => {
    if (outcome.stored && fullHold.stored()) logger.info('object storage accepts instances again: STOW requests no longer refused before their body');
    return outcome;
  };
  const sessionDeps: UploadSessionDeps = {
    db,
    store,
    recorder,
    maxInstanceBytes: config.HUREN_STOW_MAX_PART_BYTES,
    async onReceived(instances) {
      try {
        await enqueueIndexInstances(queues.indexInstance, instances, config.HUREN_JOB_ATTEMPTS);
      } catch (err) {
        // Durable already: the reconciliation sweep enqueues them once Redis is back.
        logger.warn({ instances: instances.length, err: (err as Error).message }, 'index jobs not enqueued');
      }
    },
  };

  return async (req, res) => {
    const expectedStudy = req.params.study as string | undefined;
    if (expectedStudy !== undefined && !isUid(expectedStudy)) {
      throw new HurenError(400, 'invalid_uid', `Not a valid StudyInstanceUID: ${expectedStudy.slice(0, 80)}`);
    }
    const { boundary } = checkStowRequest(req, config.HUREN_STOW_MAX_REQUEST_BYTES);
    // 503 storage_full carries a longer Retry-After than other 503s: space is not freed within seconds.
    const storageFull = (message: string) => {
      res.setHeader('Retry-After', String(config.HUREN_STOW_STORAGE_FULL_RETRY_AFTER_SECONDS));
      return new HurenError(503, 'storage_full', message);
    };
    const holdPass = fullHold.enter();
    if (!holdPass) {
      metrics.stowAdmission.inc({ outcome: 'storage_full' });
      // The body was not read: the connection cannot carry another request.
      res.setHeader('Connection', 'close');
      throw storageFull(STORAGE_FULL_BEFORE_BODY);
    }
    // However the request ends, a probe gives way to the next request (a no-op for any other).
    res.once('close', holdPass.done);
    // An institution credential's studies are its institution's; it adds only to those (docs/security.md).
    const institution = requirePrincipal(req).institution;
    const session = new UploadSession(
      institution ? { ...sessionDeps, receivedFrom: institution, admit: (id: InstanceIdentity) => admitStow(db, institution, id) } : sessionDeps,
    );

    const gone = new AbortController();
    req.once('close', () => {
      if (!req.readableEnded) gone.abort();
    });
    try {
      metrics.stowAdmission.inc({ outcome: await admission.admit(gone.signal) });
    } catch (err) {
      metrics.stowAdmission.inc({ outcome: 'refused' });
      // The body was not read: the connection cannot carry another request.
      res.setHeader('Connection', 'close');
      throw err;
    }
    if (gone.signal.aborted) return void res.destroy();

    const body = req.pipe(byteLimit(config.HUREN_STOW_MAX_REQUEST_BYTES));
    gone.signal.addEventListener('abort', () => body.destroy(), { once: true });
    let outcomes: StoreOutcome[];
    try {
      outcomes = await readMultipart<StoreOutcome>(body, boundary, async (part) => {
        const type = part.headers['content-type']?.split(';')[0].trim().toLowerCase();
        if (type && type !== DICOM) {
          part.body.resume();
          return { stored: false, failureReason: FailureReason.cannotUnderstand, message: `Part Content-Type ${type} is not ${DICOM}` };
        }
        return session.receive(part.body, expectedStudy).then(spaceSeen);
      });
    } finally {
      await session.finish();
    }
    if (outcomes.length === 0) throw new HurenError(400, 'no_instances', 'The multipart body contains no DICOM instances');

    for (const o of outcomes) {
      metrics.stowInstances.inc({ outcome: o.stored ? (o.duplicate ? 'duplicate' : 'stored') : 'failed' });
      if (!o.stored) logger.info({ sopInstanceUid: o.sopInstanceUid, failureReason: o.failureReason, reason: o.message }, 'instance not stored');
    }
    const stored = outcomes.filter((o) => o.stored);
    const audit = auditContext(req);
    audit.studies = [...new Set(stored.map((o) => o.identity.studyInstanceUid))];
    Object.assign(audit.details, { stored: stored.length, failed: outcomes.length - stored.length });
    // A full disk is not an outage that passes by itself: the operator must be told (and the
    // sender's log must say so), or it looks like a flaky network for as long as nobody frees space.
    const full = outcomes.filter((o) => !o.stored && o.storageFull).length;
    if (full) logger.error({ instances: full }, 'object storage is full: instances refused until space is freed');
    if (stored.length === 0 && full) {
      // Spares the PACS (and the network) re-sending whole studies to be refused: see StorageFullHold.
      fullHold.full();
      throw storageFull('Storage is full: no instance was stored; retry later / 存储空间已满，实例未保存，请稍后重试');
    }
    if (stored.length === 0 && outcomes.some((o) => !o.stored && o.unavailable)) {
      throw new HurenError(503, 'storage_unavailable', 'Storage or database cannot make instances durable now; retry later / 存储暂不可用，请稍后重试');
    }
    const status = stored.length === outcomes.length ? 200 : stored.length > 0 ? 202 : 409;
    res
      .status(status)
      .type('application/dicom+json')
      .send(JSON.stringify(stowResponse(outcomes, dicomwebBase(config, req), expectedStudy)));
  };
}

/** Content-Type and declared size, checked before any body byte is read (also on Expect: 100-continue). */
export function checkStowRequest(req: Request, maxBytes: number): { boundary: string } {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HurenError(413, 'request_too_large', `Request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  return parseMultipartRelatedContentType(req.headers['content-type'], [DICOM]);
}

function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > maxBytes) return cb(new HurenError(413, 'request_too_large', `Request body exceeds the limit of ${maxBytes} bytes`));
      cb(null, chunk);
    },
  });
}

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

/** The STOW-RS response data set (PS3.18 Table 10.5.3-1). */
export function stowResponse(outcomes: StoreOutcome[], base: string, requestStudy?: string): DicomJson {
  const referenced: DicomJson[] = [];
  const failed: DicomJson[] = [];
  const studies = new Set<string>();
  for (const o of outcomes) {
    if (o.stored) {
      const id = o.identity;
      studies.add(id.studyInstanceUid);
      referenced.push({
        '00081150': { vr: 'UI', Value: [id.sopClassUid] },
        '00081155': { vr: 'UI', Value: [id.sopInstanceUid] },
        '00081190': { vr: 'UR', Value: [instanceUrl(base, id.studyInstanceUid, id.seriesInstanceUid, id.sopInstanceUid)] },
      });
    } else {
      failed.push({
        ...(o.sopClassUid && { '00081150': { vr: 'UI', Value: [o.sopClassUid] } }),
        ...(o.sopInstanceUid && { '00081155': { vr: 'UI', Value: [o.sopInstanceUid] } }),
        '00081197': { vr: 'US', Value: [o.failureReason] },
      });
    }
  }
  const study = requestStudy ?? (studies.size === 1 ? [...studies][0] : undefined);
  return {
    ...(study && { '00081190': { vr: 'UR', Value: [studyUrl(base, study)] } }),
    ...(failed.length > 0 && { '00081198': { vr: 'SQ', Value: failed } }),
    ...(referenced.length > 0 && { '00081199': { vr: 'SQ', Value: referenced } }),
  };
}
