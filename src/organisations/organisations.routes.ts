import { Router, type Request, type Response } from 'express';
import { recordAudit } from '../audit/audit.service.js';
import { requirePermission } from '../auth/middleware.js';
import { authorize, can } from '../auth/policy.js';
import { fieldErrors, text } from '../lib/forms.js';
import { pageFrom, pageLink } from '../admin/paging.js';
import { listingArea } from '../admin/scope.js';
import { AppError } from '../lib/errors.js';
import { loadGeography, type Geography } from './geography.js';
import { SECTORS } from './organisation.model.js';
import { organisationForm } from './organisation.schema.js';
import {
  createOrganisation,
  getOrganisation,
  listOrganisations,
  updateOrganisation,
} from './organisation-admin.service.js';
import { listMunicipalitiesByRegion, toSelectOptions } from './organisations.service.js';

const BASE = '/admin/organisations';

/** 所属機関の管理: administrators manage; coordinators and regional viewers look at their area's. */
export function organisationsRouter(): Router {
  const router = Router();

  router.get(BASE, requirePermission('organisation.list'), async (req, res) => {
    const user = req.user!;
    const { geography, visible, regionOptions, municipalityOptions } = await listingArea(user);
    const filters = {
      q: text(req.query.q, 100),
      regionId: text(req.query.regionId, 24),
      municipalityId: text(req.query.municipalityId, 24),
      sector: text(req.query.sector, 20),
    };
    const page = pageFrom(req.query.page);
    const result = await listOrganisations(visible, filters, geography, page);
    res.render('organisations/index', {
      title: '所属機関',
      result,
      filters,
      canManage: can(user, 'organisation.manage'),
      regionOptions,
      municipalityOptions,
      sectorOptions: SECTORS.map((sector) => ({ value: sector, label: sector })),
      pageLink: (n: number) => pageLink(BASE, filters, n),
    });
  });

  router.get(`${BASE}/new`, requirePermission('organisation.manage'), async (req, res) => {
    const municipalityId = text(req.query.municipalityId, 24);
    await renderForm(res, { values: { name: '', sector: '', municipalityId }, errors: {} });
  });

  router.post(BASE, requirePermission('organisation.manage'), async (req, res) => {
    const values = formValues(req);
    const parsed = organisationForm.safeParse(values);
    if (!parsed.success) {
      return renderForm(res, { values, errors: fieldErrors(parsed.error) }, 422);
    }
    const geography = await loadGeography();
    try {
      const organisation = await createOrganisation(parsed.data, geography);
      await recordAudit({
        actorId: req.user!.id,
        action: 'organisation.created',
        targetType: 'Organisation',
        targetId: String(organisation._id),
        municipalityId: parsed.data.municipalityId,
        ip: req.ip,
        details: { name: parsed.data.name, sector: parsed.data.sector },
      });
      req.flash('success', `所属機関「${parsed.data.name}」を登録しました。`);
      res.redirect(303, listLinkFor(parsed.data.municipalityId));
    } catch (error) {
      if (error instanceof AppError && error.fields) {
        return renderForm(res, { values, errors: error.fields }, 422);
      }
      throw error;
    }
  });

  router.get(`${BASE}/:id/edit`, requirePermission('organisation.manage'), async (req, res) => {
    const organisation = await getOrganisation(req.params.id as string);
    authorize(req.user, 'organisation.read', organisation);
    await renderForm(res, {
      id: String(organisation._id),
      values: {
        name: organisation.name,
        sector: organisation.sector,
        municipalityId: String(organisation.municipalityId),
      },
      errors: {},
    });
  });

  router.post(`${BASE}/:id`, requirePermission('organisation.manage'), async (req, res) => {
    const organisation = await getOrganisation(req.params.id as string);
    authorize(req.user, 'organisation.read', organisation);
    const id = String(organisation._id);
    const values = formValues(req);
    const parsed = organisationForm.safeParse(values);
    if (!parsed.success) {
      return renderForm(res, { id, values, errors: fieldErrors(parsed.error) }, 422);
    }
    const geography: Geography = await loadGeography();
    try {
      await updateOrganisation(id, parsed.data, geography);
    } catch (error) {
      if (error instanceof AppError && error.fields) {
        return renderForm(res, { id, values, errors: error.fields }, 422);
      }
      throw error;
    }
    await recordAudit({
      actorId: req.user!.id,
      action: 'organisation.updated',
      targetType: 'Organisation',
      targetId: id,
      municipalityId: parsed.data.municipalityId,
      ip: req.ip,
      details: {
        before: {
          name: organisation.name,
          sector: organisation.sector,
          municipalityId: String(organisation.municipalityId),
        },
        after: parsed.data,
      },
    });
    req.flash('success', `所属機関「${parsed.data.name}」を更新しました。`);
    res.redirect(303, listLinkFor(parsed.data.municipalityId));
  });

  return router;
}

interface FormState {
  id?: string;
  values: { name: string; sector: string; municipalityId: string };
  errors: Record<string, string>;
}

function formValues(req: Request) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  return {
    // Whole, not cut: the form counts its characters and says when it is too long.
    name: typeof body.name === 'string' ? body.name : '',
    sector: text(body.sector, 20),
    municipalityId: text(body.municipalityId, 24),
  };
}

async function renderForm(res: Response, state: FormState, status = 200): Promise<void> {
  const groups = await listMunicipalitiesByRegion();
  res.status(status).render('organisations/form', {
    title: state.id ? '所属機関の編集' : '所属機関の登録',
    ...state,
    action: state.id ? `${BASE}/${state.id}` : BASE,
    municipalityOptions: toSelectOptions(groups),
    sectorOptions: SECTORS.map((sector) => ({ value: sector, label: sector })),
  });
}

function listLinkFor(municipalityId: string): string {
  return pageLink(BASE, { municipalityId }, 1);
}
