import type { Catalog } from '../courses/catalog.types.js';
import { onProgramCompleted, type ProgramCompletedEvent } from '../learning/program-completion.js';
import type { Logger } from '../lib/logger.js';
import { issueOnCompletion } from './certificate.service.js';

// The catalogue and logger of the app this process runs (set by createApp, like notify()'s mailer).
let deps: { catalog: Catalog; logger: Logger } | null = null;

/**
 * Issues the certificate when a learner completes a program. The event may come twice (a quiz
 * passed again) or in two processes at once: issueOnCompletion issues once (the partial unique
 * index decides a race). A failure here must not fail the learner's request (the quiz result or
 * the approval is saved): it is logged, and the certificate is issued when the learner next opens
 * /learn/me (certificatesOfLearner).
 */
async function onCompleted(event: ProgramCompletedEvent): Promise<void> {
  if (!deps) return;
  const program = deps.catalog.program(event.programId);
  if (!program) return;
  try {
    await issueOnCompletion({ userId: event.userId, program, completedAt: event.at });
  } catch (error) {
    const { name, code } = error as { name?: string; code?: unknown };
    deps.logger.error(
      { programId: event.programId, err: { name, code } },
      'certificate not issued on completion (issued on the learner’s next visit to /learn/me)',
    );
  }
}

/** Called by createApp. Listening is registered once per process, whatever the number of apps. */
export function registerCertificateIssuing(next: { catalog: Catalog; logger: Logger }): void {
  deps = next;
  onProgramCompleted(onCompleted);
}
