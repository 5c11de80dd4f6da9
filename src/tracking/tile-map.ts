/**
 * The tile map of the prefecture view: one tile per municipality, grouped in blocks by region
 * (server-rendered HTML, no script). The colour class follows the number of certified people;
 * a municipality with nobody certified gets a marked tile (pattern and text, not colour alone).
 */
export function tileClass(certified: number): string {
  if (certified === 0) return 'tile--none';
  if (certified < 5) return 'tile--1';
  if (certified < 20) return 'tile--2';
  if (certified < 50) return 'tile--3';
  return 'tile--4';
}

/** The legend of tileClass, in order. */
export const TILE_LEGEND = [
  { className: 'tile--none', label: '0人' },
  { className: 'tile--1', label: '1〜4人' },
  { className: 'tile--2', label: '5〜19人' },
  { className: 'tile--3', label: '20〜49人' },
  { className: 'tile--4', label: '50人以上' },
] as const;
