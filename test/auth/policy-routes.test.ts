/**
 * The admin pages, the organisation pages and the invitation pages decide who may enter through
 * src/auth/policy.ts (requirePermission / authorize / can), not by checking roles themselves, so
 * that a rule changed in the policy changes the pages. What each role gets is in the access
 * matrix (test/auth/access-matrix.test.ts); this guards the one decision point.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

/** Every router file under src/ (`*.routes.ts`), found on disk so a new feature is included. */
function routeFiles(dir = 'src'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return routeFiles(file);
    return entry.name.endsWith('.routes.ts') ? [file] : [];
  });
}

const ROUTE_FILES = [
  'src/organisations/organisations.routes.ts',
  'src/admin/users.routes.ts',
  'src/admin/audit.routes.ts',
  'src/admin/import/import.routes.ts',
  'src/users/invitations.routes.ts',
  'src/users/approvals.routes.ts',
  'src/mail/outbox.routes.ts',
];

describe('routes that decide through the policy', () => {
  for (const file of ROUTE_FILES) {
    it(`${file} checks no role itself`, () => {
      const source = readFileSync(file, 'utf8');
      expect(source).not.to.match(/requireRole\(/);
      expect(source).to.match(/requirePermission\('/);
    });
  }

  it('no router anywhere gates a page by role instead of by the policy', () => {
    const files = routeFiles();
    expect(files.length).to.be.greaterThan(20);
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      expect(source, file).not.to.match(/requireRole\(/);
    }
  });

  it('calls every organisation rule', () => {
    const source = readFileSync('src/organisations/organisations.routes.ts', 'utf8');
    for (const rule of ['organisation.list', 'organisation.read', 'organisation.manage'])
      expect(source).to.contain(`'${rule}'`);
  });
});
