import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The one Prometheus registry of this process, served at /metrics (metrics.routes.ts). Besides
 * Tsunagu's own metrics it holds prom-client's default process metrics (CPU, memory, event-loop
 * lag, GC, handles) under their usual names.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/** A sample with labels, for gauges that report several series. */
export interface LabelledValue {
  labels: Record<string, string>;
  value: number;
}

/** What a gauge reports at scrape time: one value, several labelled ones, or no sample (null). */
export type GaugeReading = number | null | LabelledValue[];

export interface GaugeSpec {
  /** Prometheus name, e.g. `tsunagu_backup_last_age_seconds`. */
  name: string;
  help: string;
  labelNames?: string[];
  /** Called on each scrape (never per request): keep it cheap, and return no personal data. */
  read: () => GaugeReading | Promise<GaugeReading>;
}

const readers = new Map<string, GaugeSpec['read']>();

/**
 * Adds a gauge computed when /metrics is scraped, e.g. the age of the last backup:
 *
 *   registerGauge({
 *     name: 'tsunagu_backup_last_age_seconds',
 *     help: 'Seconds since the last completed scheduled backup.',
 *     read: () => (lastBackupAt ? (Date.now() - lastBackupAt.getTime()) / 1000 : null),
 *   });
 *
 * Registering a name again replaces its reader (an app built again, as tests do), so it may be
 * called from createApp or a service's set-up. A reader that throws leaves the gauge empty for
 * that scrape.
 */
export function registerGauge(spec: GaugeSpec): void {
  const known = readers.has(spec.name);
  readers.set(spec.name, spec.read);
  if (known) return;
  new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [metricsRegistry],
    async collect() {
      // No sample at all (not a 0) when there is no reading: reset() alone leaves a 0 behind in
      // a gauge without labels, which for e.g. "age of the last backup" would read "just now".
      this.reset();
      (this as unknown as { hashMap: object }).hashMap = {};
      let reading: GaugeReading;
      try {
        reading = await readers.get(spec.name)!();
      } catch {
        return;
      }
      if (typeof reading === 'number') this.set(reading);
      else if (Array.isArray(reading)) {
        for (const { labels, value } of reading) this.set(labels, value);
      }
    },
  });
}
