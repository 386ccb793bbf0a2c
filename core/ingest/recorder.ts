import type { Db } from '../db';
import { GroupCommit } from '../group-commit';
import { recordInstances, type ConflictPolicy, type InstanceToRecord, type RecordOutcome } from './record';

/**
 * Instance rows per transaction at most: a multi-row INSERT of 11 columns stays far below
 * PostgreSQL's 65,535 bind parameters, and one group holds its row locks only briefly.
 */
const MAX_GROUP = 500;

/**
 * The gateway process's recorder: the instances of all concurrent STOW-RS requests that are
 * durable in storage at the same moment share one transaction (one WAL flush), instead of
 * one transaction each.
 */
export function createInstanceRecorder(db: Db, policy: ConflictPolicy): GroupCommit<InstanceToRecord, RecordOutcome> {
  return new GroupCommit((items) => recordInstances(db, items, policy), MAX_GROUP);
}
