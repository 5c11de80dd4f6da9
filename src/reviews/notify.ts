import { notify, notifyAdmins } from '../notifications/notifications.service.js';

/** Every notification the review sends goes through here (in-app and mail: no case content, a link only). */
export const reviewLink = (caseStudyId: unknown) => `/review/${String(caseStudyId)}`;
export const caseStudyLink = (programId: string) => `/learn/${programId}/case-study`;
export const ADMIN_REVIEW_LINK = '/admin/review';

export function tellSupervisor(
  supervisorId: unknown,
  kind: 'case_study.assigned' | 'case_study.resubmitted' | 'case_study.reassigned',
  caseStudyId: unknown,
): Promise<void> {
  // The previous supervisor of a reassigned case can no longer open it: link the queue.
  const link = kind === 'case_study.reassigned' ? '/review' : reviewLink(caseStudyId);
  return notify({ userIds: [String(supervisorId)], kind, link });
}

export function tellTrainee(
  userId: unknown,
  kind: 'case_study.feedback_released' | 'case_study.approved',
  programId: string,
): Promise<void> {
  return notify({ userIds: [String(userId)], kind, link: caseStudyLink(programId) });
}

export function tellAdminsUnassigned(): Promise<void> {
  return notifyAdmins('case_study.unassigned', ADMIN_REVIEW_LINK);
}
