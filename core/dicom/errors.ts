import { HurenError } from '../errors';

/**
 * A part that is not an instance huren can store or index. `failureReason` is the Failure
 * Reason (0008,1197) STOW reports for it in the FailedSOPSequence, one of FailureReason in
 * ./failure-reasons (0xC000 cannot understand, 0xC122 transfer syntax not supported, 0xA900
 * data set does not match SOP class). Should it escape to the HTTP layer it is a 400.
 */
export class DicomInvalidError extends HurenError {
  constructor(
    readonly failureReason: number,
    message: string,
  ) {
    super(400, 'dicom_invalid', message, { failureReason });
    this.name = 'DicomInvalidError';
  }
}
