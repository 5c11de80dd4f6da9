import mongoose, { Types } from 'mongoose';
import { pageOf, skipFor, type Page } from '../admin/paging.js';
import { literalPattern } from '../lib/forms.js';
import { Certificate } from './certificate.model.js';
import { summaryOf, type CertificateSummary } from './certificate.service.js';

export interface CertificateFilters {
  /** Part of the name, or of the number. */
  q: string;
  municipalityId: string;
  /** '' (all), 'valid' or 'revoked'. */
  status: string;
  programId: string;
}

/**
 * One page of certificates, newest first. `area` is the scope: 'all' for administrators, else
 * the municipality ids the person may see (coordinators: their own). A filter outside the scope
 * finds nothing.
 */
export async function listCertificates(
  area: 'all' | string[],
  filters: CertificateFilters,
  page: number,
): Promise<Page<CertificateSummary>> {
  const filter = certificateFilter(area, filters);
  const [docs, total] = await Promise.all([
    Certificate.find(filter)
      .sort({ issuedAt: -1, _id: -1 })
      .skip(skipFor(page))
      .limit(pageOf([], 0, page).pageSize)
      .lean(),
    Certificate.countDocuments(filter),
  ]);
  return pageOf(docs.map(summaryOf), total, page);
}

/** The valid certificates of one municipality, oldest first (the ZIP's contents), as a cursor. */
export function validCertificatesOf(municipalityId: string) {
  return Certificate.find({
    municipalityId: { $eq: new Types.ObjectId(municipalityId) },
    valid: { $eq: true },
  })
    .sort({ fiscalYear: 1, serial: 1 })
    .lean()
    .cursor();
}

function certificateFilter(area: 'all' | string[], filters: CertificateFilters) {
  const and: Record<string, unknown>[] = [];
  const ids = (list: string[]) =>
    list.filter((id) => Types.ObjectId.isValid(id)).map((id) => new Types.ObjectId(id));
  if (area !== 'all') and.push({ municipalityId: mongoose.trusted({ $in: ids(area) }) });
  if (filters.municipalityId) {
    and.push({
      municipalityId: Types.ObjectId.isValid(filters.municipalityId)
        ? { $eq: new Types.ObjectId(filters.municipalityId) }
        : mongoose.trusted({ $in: [] }),
    });
  }
  if (filters.status === 'valid') and.push({ valid: { $eq: true } });
  if (filters.status === 'revoked') and.push({ valid: { $eq: false } });
  if (filters.programId) and.push({ programId: { $eq: filters.programId } });
  if (filters.q) {
    const pattern = literalPattern(filters.q);
    and.push({
      $or: [
        { name: mongoose.trusted({ $regex: pattern }) },
        { number: mongoose.trusted({ $regex: pattern }) },
      ],
    });
  }
  return and.length > 0 ? { $and: and } : {};
}
