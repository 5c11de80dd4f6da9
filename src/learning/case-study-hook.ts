/**
 * Whether the learner's case study for a program has been approved by a supervisor. The
 * case-study feature registers the real check with setCaseStudyApprovalCheck(); until then no case
 * study counts as approved, so a program whose rule requires one cannot be completed yet.
 */
export type CaseStudyApprovalCheck = (userId: string, programId: string) => Promise<boolean>;

let check: CaseStudyApprovalCheck = () => Promise.resolve(false);

export function caseStudyApproved(userId: string, programId: string): Promise<boolean> {
  return check(userId, programId);
}

export function setCaseStudyApprovalCheck(next: CaseStudyApprovalCheck): void {
  check = next;
}
