import { expect } from 'chai';
import { Types } from 'mongoose';
import { AppError } from '../../src/lib/errors.js';
import {
  authorize,
  can,
  grantableRoles,
  inOwnMunicipality,
  inOwnRegion,
  type Action,
} from '../../src/auth/policy.js';
import type { SessionUser } from '../../src/auth/session-user.js';
import type { Role } from '../../src/users/roles.js';

/**
 * The rules of src/auth/policy.ts as a decision table, with the records the routes pass (the
 * access matrix in access-matrix.test.ts checks that every route asks them): each rule for a
 * person of the record's own area, of another area, and for the record's own person.
 * Municipality and region ids are ObjectIds on records and strings on the signed-in user, as in
 * the app.
 */
const N = new Types.ObjectId(); // 長野市
const M = new Types.ObjectId(); // 松本市
const RN = new Types.ObjectId(); // 長野圏域
const RM = new Types.ObjectId(); // 松本圏域

function person(
  id: string,
  roles: Role[],
  municipality: Types.ObjectId | null,
  region: Types.ObjectId | null,
  status: SessionUser['status'] = 'active',
): SessionUser {
  return {
    id,
    name: id,
    email: `${id}@example.jp`,
    roles,
    status,
    municipalityId: municipality ? String(municipality) : null,
    regionId: region ? String(region) : null,
  };
}
const admin = person('admin', ['admin'], null, null);
const coordinator = person('coord', ['coordinator'], N, RN);
const viewer = person('viewer', ['regional_viewer'], null, RN);
const supervisor = person('sv', ['supervisor'], N, RN);
const trainee = person('trainee', ['trainee'], N, RN);
const otherTrainee = person('other', ['trainee'], N, RN);

const here = { municipalityId: N, regionId: RN };
const there = { municipalityId: M, regionId: RM };

describe('policy rules', () => {
  describe('can()', () => {
    it('refuses anonymous, pending and suspended people everything, administrators included', () => {
      for (const status of ['pending', 'suspended'] as const)
        expect(can(person('a', ['admin'], null, null, status), 'user.manage')).to.equal(false);
      expect(can(undefined, 'user.manage')).to.equal(false);
      expect(can(null, 'review.queue')).to.equal(false);
      expect(can(admin, 'user.manage')).to.equal(true);
    });

    it('authorize() answers 404 where can() says no, and nothing where it says yes', () => {
      expect(() => authorize(coordinator, 'user.read', { ...there }))
        .to.throw(AppError)
        .with.property('status', 404);
      expect(() => authorize(coordinator, 'user.read', { ...here })).not.to.throw();
    });
  });

  describe('areas', () => {
    it('places a record in a coordinator’s municipality and a viewer’s region only when both ids are set and equal', () => {
      expect(inOwnMunicipality(coordinator, here)).to.equal(true);
      expect(inOwnMunicipality(coordinator, there)).to.equal(false);
      expect(inOwnMunicipality(coordinator, {})).to.equal(false);
      expect(inOwnMunicipality(coordinator, undefined)).to.equal(false);
      expect(inOwnMunicipality(supervisor, here)).to.equal(false);
      expect(
        inOwnMunicipality(person('c', ['coordinator'], null, null), { municipalityId: null }),
      ).to.equal(false);
      // A person without a municipality is in no one's, whatever the record says.
      expect(inOwnMunicipality(person('c', ['coordinator'], null, null), here)).to.equal(false);
      expect(inOwnRegion(viewer, here)).to.equal(true);
      expect(inOwnRegion(viewer, there)).to.equal(false);
      expect(inOwnRegion(viewer, undefined)).to.equal(false);
      expect(inOwnRegion(coordinator, here)).to.equal(false);
      expect(
        inOwnRegion(person('v', ['regional_viewer'], null, null), { regionId: undefined }),
      ).to.equal(false);
    });

    it('lets administrators grant every role and coordinators the trainee role only', () => {
      expect(grantableRoles(admin)).to.deep.equal([
        'trainee',
        'supervisor',
        'coordinator',
        'regional_viewer',
        'admin',
      ]);
      expect(grantableRoles(coordinator)).to.deep.equal(['trainee']);
      expect(grantableRoles(viewer)).to.deep.equal([]);
      expect(grantableRoles(supervisor)).to.deep.equal([]);
    });
  });

  /** [who, resource, expected]: one row per case of an action. */
  type Row = [SessionUser, unknown, boolean];
  const table: Partial<Record<Action, Row[]>> = {
    'user.read': [
      [admin, there, true],
      [coordinator, here, true],
      [coordinator, there, false],
      [viewer, here, true],
      [viewer, there, false],
      [trainee, { ...here, _id: new Types.ObjectId() }, false],
      [trainee, { ...there, _id: 'trainee' }, true],
      [trainee, { ...there, id: 'trainee' }, true],
      [coordinator, undefined, false],
    ],
    'user.approve': [
      [admin, there, true],
      [coordinator, here, true],
      [coordinator, there, false],
      [viewer, here, false],
    ],
    'user.invite': [
      [admin, { ...there, roles: ['admin'] }, true],
      [coordinator, undefined, true],
      [coordinator, { ...here, roles: ['trainee'] }, true],
      [coordinator, { ...here }, true],
      [coordinator, { ...here, roles: ['trainee', 'supervisor'] }, false],
      [coordinator, { ...there, roles: ['trainee'] }, false],
      [viewer, undefined, false],
      [supervisor, { ...here, roles: ['trainee'] }, false],
    ],
    'user.manage': [
      [admin, undefined, true],
      [coordinator, undefined, false],
    ],
    'mail.read': [
      [admin, undefined, true],
      [coordinator, undefined, false],
    ],
    'audit.read': [
      [admin, undefined, true],
      [viewer, undefined, false],
    ],
    'organisation.list': [
      [admin, undefined, true],
      [coordinator, undefined, true],
      [viewer, undefined, true],
      [supervisor, undefined, false],
      [trainee, undefined, false],
    ],
    'organisation.read': [
      [admin, there, true],
      [coordinator, here, true],
      [coordinator, there, false],
      [viewer, here, true],
      [viewer, there, false],
      [trainee, here, false],
    ],
    'organisation.manage': [
      [admin, undefined, true],
      [coordinator, undefined, false],
    ],
    'user.list': [
      [admin, undefined, true],
      [coordinator, undefined, true],
      [viewer, undefined, true],
      [supervisor, undefined, false],
    ],
    'user.suspend': [
      [admin, undefined, true],
      [coordinator, undefined, true],
      [viewer, undefined, false],
      [admin, { ...there, id: 'other', roles: ['admin'] }, true],
      [admin, { ...there, _id: 'admin' }, false],
      [admin, { ...there, id: 'admin' }, false],
      [coordinator, { ...here, id: 'other', roles: ['trainee'] }, true],
      [coordinator, { ...here, id: 'other' }, true],
      [coordinator, { ...here, id: 'other', roles: ['trainee', 'supervisor'] }, false],
      [coordinator, { ...here, id: 'other', roles: ['coordinator'] }, false],
      [coordinator, { ...there, id: 'other', roles: ['trainee'] }, false],
      [coordinator, { ...here, id: 'coord', roles: ['trainee'] }, false],
      [viewer, { ...here, id: 'other', roles: ['trainee'] }, false],
    ],
    'user.edit': [
      [admin, undefined, true],
      [admin, { ...there, roles: ['admin'] }, true],
      [coordinator, undefined, true],
      [viewer, undefined, false],
      [coordinator, { ...here, roles: ['trainee'] }, true],
      [coordinator, { ...here }, true],
      [coordinator, { ...here, roles: ['supervisor'] }, false],
      [coordinator, { ...there, roles: ['trainee'] }, false],
    ],
    'user.move': [
      [admin, undefined, true],
      [coordinator, undefined, false],
    ],
    'user.import': [
      [admin, there, true],
      [coordinator, undefined, true],
      [coordinator, here, true],
      [coordinator, there, false],
      [viewer, undefined, false],
      [viewer, here, false],
    ],
    'system.health': [
      [admin, undefined, true],
      [coordinator, undefined, false],
    ],
  };

  const own = { ...here, userId: 'trainee' };
  const assigned = {
    ...here,
    userId: 'trainee',
    assignedSupervisorIds: [new Types.ObjectId(), 'sv'],
  };
  Object.assign(table, {
    'caseStudy.read': [
      [admin, own, true],
      [trainee, own, true],
      [otherTrainee, own, false],
      [supervisor, assigned, true],
      [supervisor, own, false],
      [supervisor, { ...assigned, assignedSupervisorIds: null }, false],
      [person('sv', ['trainee'], N, RN), assigned, false],
      [coordinator, own, false],
      [admin, undefined, false],
    ],
    'caseStudy.write': [
      [trainee, { ...own, state: 'draft' }, true],
      [trainee, { ...own, state: 'revision_requested' }, true],
      [trainee, { ...own, state: 'submitted' }, false],
      [trainee, { ...own, state: 'approved' }, false],
      [otherTrainee, { ...own, state: 'draft' }, false],
      [admin, { ...own, state: 'draft' }, false],
      [trainee, undefined, false],
    ],
    'caseStudy.withdraw': [
      [trainee, { ...own, state: 'submitted' }, true],
      [trainee, { ...own, state: 'draft' }, true],
      [trainee, { ...own, state: 'approved' }, false],
      [trainee, { ...own, state: 'withdrawn' }, false],
      [otherTrainee, { ...own, state: 'submitted' }, false],
      [trainee, undefined, false],
    ],
    'caseStudy.status': [
      [admin, { ...there, userId: 'x' }, true],
      [trainee, own, true],
      [coordinator, { ...here, userId: 'x' }, true],
      [coordinator, { ...there, userId: 'x' }, false],
      [viewer, { ...here, userId: 'x' }, true],
      [viewer, { ...there, userId: 'x' }, false],
      [otherTrainee, own, false],
      [admin, undefined, false],
    ],
    'caseStudy.accessLog': [
      [admin, undefined, true],
      [supervisor, undefined, false],
    ],
    'review.queue': [
      [admin, undefined, true],
      [supervisor, undefined, true],
      [coordinator, undefined, false],
    ],
    'review.decide': [
      [supervisor, assigned, true],
      [supervisor, own, false],
      [person('sv', ['trainee'], N, RN), assigned, false],
      [person('sv', ['supervisor', 'trainee'], N, RN), { ...assigned, userId: 'sv' }, false],
      [admin, assigned, false],
      [supervisor, undefined, false],
    ],
    'review.answer': [
      [trainee, { ...own, state: 'revision_requested' }, true],
      [trainee, { ...own, state: 'submitted' }, false],
      [otherTrainee, { ...own, state: 'revision_requested' }, false],
      [trainee, undefined, false],
    ],
    'review.allocate': [
      [admin, undefined, true],
      [supervisor, undefined, false],
    ],
    'report.prefecture': [
      [admin, undefined, true],
      [viewer, undefined, false],
    ],
    'report.region': [
      [admin, there, true],
      [viewer, undefined, true],
      [coordinator, undefined, false],
      [viewer, here, true],
      [viewer, there, false],
      [coordinator, here, false],
    ],
    'report.municipality': [
      [admin, there, true],
      [coordinator, undefined, true],
      [viewer, undefined, true],
      [supervisor, undefined, false],
      [coordinator, here, true],
      [coordinator, there, false],
      [viewer, here, true],
      [viewer, there, false],
    ],
    'report.remind': [
      [admin, there, true],
      [coordinator, undefined, true],
      [viewer, undefined, false],
      [coordinator, here, true],
      [coordinator, there, false],
      [viewer, here, false],
    ],
    'notification.read': [
      [trainee, { userId: 'trainee' }, true],
      [admin, { userId: 'trainee' }, false],
      [trainee, undefined, false],
    ],
    'certificate.list': [
      [admin, undefined, true],
      [coordinator, undefined, true],
      [viewer, undefined, false],
      [trainee, undefined, false],
    ],
    'certificate.read': [
      [admin, { ...there, userId: 'x' }, true],
      [trainee, { ...there, userId: 'trainee' }, true],
      [coordinator, { ...here, userId: 'x' }, true],
      [coordinator, { ...there, userId: 'x' }, false],
      [viewer, { ...here, userId: 'x' }, false],
      [otherTrainee, { ...here, userId: 'trainee' }, false],
      [admin, undefined, false],
    ],
    'certificate.archive': [
      [admin, there, true],
      [coordinator, undefined, true],
      [coordinator, here, true],
      [coordinator, there, false],
      [viewer, here, false],
    ],
    'certificate.manage': [
      [admin, undefined, true],
      [coordinator, undefined, false],
    ],
  } satisfies Partial<Record<Action, Row[]>>);

  for (const [action, rows] of Object.entries(table) as [Action, Row[]][])
    it(`${action}`, () => {
      for (const [who, resource, expected] of rows)
        expect(
          can(who, action, resource as never),
          `${who.id} (${who.roles.join()}) ${JSON.stringify(resource)}`,
        ).to.equal(expected);
    });
});
