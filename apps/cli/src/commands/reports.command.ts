/**
 * `edgec reports`: what the fleet measured. `latency` prints per-device and per-profile
 * p50/p90/p99, spread, sample count and measured vs predicted (or the server's CSV with
 * --csv); `pareto` prints a model's variants with the accuracy x latency x size front marked.
 */
import type { Command } from 'commander';
import { addApiOptions, apiClientFor } from '../ui/api-client';
import type { ParetoAnswer } from '../ui/api-types';
import { renderLatencyReport, renderPareto } from '../ui/report-views';

export function latencyReportPath(
  filter: { variant?: string; profile?: string; group?: string },
  format: 'json' | 'csv',
): string {
  const query = new URLSearchParams(
    Object.entries({ ...filter, format }).filter(
      (e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '',
    ),
  );
  return `/api/v1/reports/latency?${query}`;
}

export function register(program: Command): void {
  const reports = addApiOptions(
    program.command('reports').description('fleet measurements: latency report, Pareto set'),
  );

  reports
    .command('latency')
    .description('p50/p90/p99 per device and per profile, measured vs predicted')
    .option('--variant <id>', 'only this variant')
    .option('--profile <id>', 'only devices of this profile')
    .option('--group <group>', 'only devices of this group')
    .option('--csv', 'print CSV (as the server writes it)')
    .option('--json', 'print JSON')
    .action(
      async (
        flags: {
          variant?: string;
          profile?: string;
          group?: string;
          csv?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const client = apiClientFor(cmd);
        const filter = { variant: flags.variant, profile: flags.profile, group: flags.group };
        if (flags.csv) {
          const csv = await client.requestText('GET', latencyReportPath(filter, 'csv'));
          process.stdout.write(csv.endsWith('\n') ? csv : `${csv}\n`);
          return;
        }
        const answer = await client.get<unknown>(latencyReportPath(filter, 'json'));
        process.stdout.write(
          flags.json ? `${JSON.stringify(answer, null, 2)}\n` : renderLatencyReport(answer),
        );
      },
    );

  reports
    .command('pareto')
    .description("a model's variants: accuracy, p50 and size, the Pareto front marked *")
    .requiredOption('--model <id>', 'model id')
    .option('--profile <id>', 'latency on this device profile')
    .option('--json', 'print JSON')
    .action(async (flags: { model: string; profile?: string; json?: boolean }, cmd: Command) => {
      const query = new URLSearchParams({
        modelId: flags.model,
        ...(flags.profile ? { profileId: flags.profile } : {}),
      });
      const answer = await apiClientFor(cmd).get<ParetoAnswer>(`/api/v1/variants/pareto?${query}`);
      process.stdout.write(
        flags.json ? `${JSON.stringify(answer, null, 2)}\n` : renderPareto(answer),
      );
    });
}
