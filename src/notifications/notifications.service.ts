// Placeholder until the notifications feature (branch rv-notify) lands: same interface, no effect.
export type NotificationKind =
  | 'case_study.assigned'
  | 'case_study.resubmitted'
  | 'case_study.feedback_released'
  | 'case_study.approved'
  | 'case_study.unassigned'
  | 'case_study.reassigned';
export interface NotifyInput {
  userIds: string[];
  kind: NotificationKind;
  link: string;
}
export function notify(_input: NotifyInput): Promise<void> {
  return Promise.resolve();
}
export function notifyAdmins(_kind: NotificationKind, _link: string): Promise<void> {
  return Promise.resolve();
}
export function unreadCount(_userId: string): Promise<number> {
  return Promise.resolve(0);
}
