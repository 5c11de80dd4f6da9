/** Rows per page on the admin lists. */
export const PAGE_SIZE = 50;

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pages: number;
  pageSize: number;
}

/** Reads ?page=N (1-based); anything else means the first page. */
export function pageFrom(value: unknown): number {
  const page = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : 1;
  return Math.max(1, page);
}

export function skipFor(page: number, pageSize = PAGE_SIZE): number {
  return (page - 1) * pageSize;
}

export function pageOf<T>(items: T[], total: number, page: number, pageSize = PAGE_SIZE): Page<T> {
  return { items, total, page, pages: Math.max(1, Math.ceil(total / pageSize)), pageSize };
}

/**
 * The query string for another page of the same list: keeps the active filters (non-empty
 * strings only) and replaces the page number.
 */
export function pageLink(basePath: string, filters: Record<string, unknown>, page: number): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (typeof value === 'string' && value !== '') params.set(key, value);
  }
  if (page > 1) params.set('page', String(page));
  const query = params.toString();
  return query ? `${basePath}?${query}` : basePath;
}
