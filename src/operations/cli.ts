import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createLogger } from '../lib/logger.js';
import type { BackupProgress } from './backup.js';
import { openOperationsDatabase } from './connect.js';
import { RestoreRefused, restoreDatabase } from './restore.js';
import { runManualBackup } from './scheduled-backup.js';

/**
 * `npm run backup -- --out <file.tar.gz>` and `npm run restore -- <file.tar.gz> [--drop]`,
 * against MONGODB_URI or the embedded store of DATA_DIR (the app's own configuration).
 * Exit status 0 on success, 1 on failure (the message says whether anything was written).
 */

const tty = process.stdout.isTTY;

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function showProgress(line: string): void {
  if (tty) process.stdout.write(`\r\x1b[2K${line}`);
}

function endProgress(): void {
  if (tty) process.stdout.write('\r\x1b[2K');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  const logger = createLogger({ level: 'warn' });
  if (command === 'backup') {
    const { values } = parseArgs({ args: rest, options: { out: { type: 'string' } } });
    if (!values.out) {
      process.stderr.write('usage: npm run backup -- --out <file.tar.gz>\n');
      return 2;
    }
    const database = await openOperationsDatabase(config, logger);
    try {
      // Recorded in backup_runs either way (the administrators' バックアップ page lists it).
      const result = await runManualBackup(
        database.db,
        values.out,
        {
          onProgress: (p: BackupProgress) =>
            showProgress(
              `collections ${p.collectionsDone}/${p.collections} (${p.collection}) · ` +
                `documents ${p.documents.toLocaleString('en')} · ${formatBytes(p.bytes)}`,
            ),
        },
        (error) => process.stderr.write(`the backup could not be recorded: ${error.message}\n`),
      );
      endProgress();
      for (const c of result.collections) {
        process.stdout.write(
          `${c.name}: ${c.documents} documents, ${formatBytes(c.bytes)}, ${c.indexes} indexes\n`,
        );
      }
      if (result.skippedFiles) {
        process.stdout.write(
          `${result.skippedFiles} GridFS files left out (uploaded or deleted during the backup)\n`,
        );
      }
      process.stdout.write(
        `backup written: ${result.file} (${formatBytes(result.archiveBytes)}), sha256 ${result.sha256}\n`,
      );
      return 0;
    } finally {
      await database.close();
    }
  }
  if (command === 'restore') {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { drop: { type: 'boolean', default: false } },
      allowPositionals: true,
    });
    if (positionals.length !== 1) {
      process.stderr.write('usage: npm run restore -- <file.tar.gz> [--drop]\n');
      return 2;
    }
    const database = await openOperationsDatabase(config, logger);
    try {
      const result = await restoreDatabase(database.db, positionals[0], {
        drop: values.drop,
        onProgress: (p) => showProgress(`${p.collection}: ${p.documents.toLocaleString('en')}`),
      });
      endProgress();
      for (const c of result.collections) {
        process.stdout.write(`${c.name}: ${c.documents} documents, ${c.indexes} indexes\n`);
      }
      process.stdout.write(`restore complete into ${database.where}\n`);
      return 0;
    } catch (error) {
      endProgress();
      if (error instanceof RestoreRefused) {
        process.stderr.write(`restore refused, nothing was written: ${error.message}\n`);
        return 1;
      }
      throw error;
    } finally {
      await database.close();
    }
  }
  process.stderr.write('usage: cli.ts backup --out <file> | restore <file> [--drop]\n');
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    endProgress();
    process.stderr.write(`${process.argv[2] ?? 'operation'} failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
