import type { RequestHandler } from 'express';
import type { SessionUser } from '../auth/session-user.js';
import { formatDate } from '../lib/dates.js';
import { Municipality } from '../organisations/municipality.model.js';
import { Organisation } from '../organisations/organisation.model.js';

/** The line at the top of a printed page: who printed it, for which office, and when. */
export interface PrintHeading {
  name: string;
  /** 所属機関 (the organisation) or, for staff without one, 市町村 (the municipality). */
  placeLabel: '所属機関' | '市町村' | '';
  place: string;
  printedOn: string;
}

/** The signed-in person's print heading (one or two small reads). */
export async function printHeadingOf(user: SessionUser): Promise<PrintHeading> {
  const organisation = user.organisationId
    ? await Organisation.findById(user.organisationId, { name: 1 }).lean()
    : null;
  const municipality =
    !organisation && user.municipalityId
      ? await Municipality.findById(user.municipalityId, { name: 1 }).lean()
      : null;
  return {
    name: user.name,
    placeLabel: organisation ? '所属機関' : municipality ? '市町村' : '',
    place: organisation?.name ?? municipality?.name ?? '',
    printedOn: formatDate(new Date()),
  };
}

/**
 * Puts the print heading in res.locals.printHeading for pages meant to be printed (views/partials/
 * print-heading.ejs shows it on paper only). Does nothing for anonymous requests.
 */
export function printHeading(): RequestHandler {
  return async (req, res, next) => {
    if (req.user) res.locals.printHeading = await printHeadingOf(req.user);
    next();
  };
}
