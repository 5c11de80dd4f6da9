import type { SessionUser } from '../auth/session-user.js';
import type { Role } from '../users/roles.js';

export interface NavItem {
  href: string;
  label: string;
}

interface NavEntry extends NavItem {
  /** Shown to signed-in users holding any of these roles (admins see every entry); omit for all signed-in users. */
  roles?: Role[];
  /** Shown only to anonymous visitors. */
  anonymous?: boolean;
}

/**
 * The main menu, in display order. Each feature adds its entries in its own section.
 */
const entries: NavEntry[] = [
  { href: '/', label: 'ホーム' },

  // ── Learning (L) ───────────────────────────────────────────────────────────────────────────
  { href: '/learn', label: '研修' },
  { href: '/learn/me', label: '学習の記録' },

  // ── Accounts (A1) ──────────────────────────────────────────────────────────────────────────
  { href: '/approvals', label: '承認待ち', roles: ['coordinator'] },
  { href: '/invitations', label: '招待', roles: ['coordinator'] },

  // ── Organisations & admin (A2) ─────────────────────────────────────────────────────────────
  { href: '/admin/users', label: '利用者', roles: ['coordinator', 'regional_viewer'] },
  { href: '/admin/organisations', label: '所属機関', roles: ['coordinator', 'regional_viewer'] },
  { href: '/admin/audit', label: '操作の記録', roles: ['admin'] },

  // ── Supervisor review ──────────────────────────────────────────────────────────────────────
  { href: '/review', label: 'レポートの確認', roles: ['supervisor'] },
  { href: '/admin/review', label: 'レポートの担当', roles: ['admin'] },

  // ── Certificates (修了証書) ────────────────────────────────────────────────────────────────
  { href: '/admin/certificates', label: '修了証書', roles: ['coordinator'] },
  // ── Tracking reports ───────────────────────────────────────────────────────────────────────
  { href: '/reports', label: '実施状況', roles: ['coordinator', 'regional_viewer'] },

  // ── Notifications (the layout adds the unread count to this entry) ─────────────────────────
  { href: '/notifications', label: 'お知らせ' },

  // ── Accounts (A1), last ────────────────────────────────────────────────────────────────────
  { href: '/admin/outbox', label: '送信メール', roles: ['admin'] },
  // ── Operations ─────────────────────────────────────────────────────────────────────────────
  { href: '/admin/backups', label: 'バックアップ', roles: ['admin'] },
  { href: '/account', label: 'アカウント', roles: undefined },
  { href: '/register', label: '利用登録', anonymous: true },
];

/** The menu for this user (undefined: an anonymous visitor). */
export function navigationFor(user: SessionUser | undefined | null): NavItem[] {
  return entries
    .filter((entry) => {
      if (entry.anonymous) return !user;
      if (entry.href === '/') return true;
      if (!user) return false;
      if (!entry.roles) return true;
      return user.roles.includes('admin') || entry.roles.some((role) => user.roles.includes(role));
    })
    .map(({ href, label }) => ({ href, label }));
}
