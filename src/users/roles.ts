/** The roles a person can hold in Tsunagu. A person may hold more than one. */
export const ROLES = ['trainee', 'supervisor', 'coordinator', 'regional_viewer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Japanese names shown in the interface. */
export const ROLE_LABELS: Record<Role, string> = {
  trainee: '受講者',
  supervisor: 'スーパーバイザー',
  coordinator: '市町村担当者',
  regional_viewer: '圏域担当',
  admin: 'センター管理者',
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Roles that bind a person to a place: coordinators to one municipality, viewers to one region. */
export function needsMunicipality(roles: readonly Role[]): boolean {
  return roles.some((role) => role !== 'admin');
}
