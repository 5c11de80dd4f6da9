import type { Program } from '../courses/catalog.types.js';
import type { Learner } from './learner.js';
import {
  computeProgramProgress,
  getProgress,
  loadProgramProgress,
  type ProgressSummary,
} from './progress.service.js';

/** A learner has completed a program (the certificate issue listens). */
export interface ProgramCompletedEvent {
  userId: string;
  programId: string;
  at: Date;
}
export type ProgramCompletedListener = (event: ProgramCompletedEvent) => Promise<void> | void;

const listeners = new Set<ProgramCompletedListener>();

/** Listens for completions; returns a function that stops listening. */
export function onProgramCompleted(listener: ProgramCompletedListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Emits the event if the learner's program is now complete. Called wherever the last step can
 * happen: a lesson newly marked read, a quiz passed, the case study approved (src/reviews). A
 * retaken quiz passed again emits again, so listeners must be idempotent (one certificate per
 * learner and program).
 */
export async function emitIfProgramCompleted(
  learner: Learner,
  program: Program,
  /** The learner's summary just written, when the caller has it (saves a read). */
  written?: ProgressSummary,
): Promise<boolean> {
  // Nearly every call comes before the last module is done: the case study (one more read) is
  // asked about only once the modules alone would complete the program.
  const summary = written ?? (await getProgress(learner, program.id));
  if (!computeProgramProgress(program, summary, true).completed) return false;
  const progress = await loadProgramProgress(learner, program);
  if (!progress.completed) return false;
  const event = { userId: String(learner.userId), programId: program.id, at: new Date() };
  for (const listener of listeners) await listener(event);
  return true;
}
