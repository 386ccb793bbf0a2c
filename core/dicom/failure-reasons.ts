/**
 * FailureReason (0008,1197) values used in STOW-RS responses (PS3.18 Table 10.5.3-2,
 * from the C-STORE status codes of PS3.4 Annex B).
 */
export const FailureReason = {
  processingFailure: 0x0110,
  /** Refused: not authorized (PS3.7 Annex C): the sender may not add to this study. */
  notAuthorized: 0x0124,
  /** Refused: out of resources (storage or database could not make the instance durable). */
  outOfResources: 0xa700,
  /** Error: data set does not match SOP Class (or contradicts the request). */
  dataSetDoesNotMatchSopClass: 0xa900,
  /** Error: cannot understand (not DICOM Part 10, broken meta header, missing UIDs). */
  cannotUnderstand: 0xc000,
  /** Referenced transfer syntax not supported. */
  transferSyntaxNotSupported: 0xc122,
} as const;
