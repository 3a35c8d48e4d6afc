import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { LatencyReportQueryDto } from './dto/latency-report.dto';
import { ReportsService } from './reports.service';

@ApiTags('reports')
@ApiBearerAuth()
@Controller('api/v1/reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Get('latency')
  @ApiOkResponse({
    description:
      'Per device and per profile: median p50/p90/p99, p50 spread, n, and the predicted p50 beside the measured one',
  })
  latency(@Query() query: LatencyReportQueryDto, @Res({ passthrough: true }) res: Response) {
    const filter = { variantId: query.variant, profileId: query.profile, group: query.group };
    if (query.format === 'csv') {
      res.type('text/csv');
      res.setHeader('Content-Disposition', 'attachment; filename="latency-report.csv"');
      return this.reports.latencyCsv(filter);
    }
    return this.reports.latency(filter);
  }
}
