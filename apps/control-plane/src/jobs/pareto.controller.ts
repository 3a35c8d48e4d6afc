import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { MeasurementsService } from '../measurements/measurements.service';
import { ModelsService } from '../models/models.service';
import { paretoFront, type ParetoPoint } from './pareto-front';

class ParetoQueryDto {
  @ApiProperty()
  @IsString()
  @MaxLength(64)
  modelId!: string;

  @ApiPropertyOptional({ description: 'Device class whose latency counts' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  profileId?: string;
}

interface LatencyProvenance {
  latencyMs?: number | null;
  latencySource?: 'measured' | 'predicted' | null;
  profileId?: string | null;
}

/**
 * Every variant of a model as a point (accuracy, p50, size) and the ids on the Pareto front.
 * Latency: the variant's own fleet measurements for the profile when there are any, else the
 * figure its compression job recorded for that device class.
 */
@ApiTags('jobs')
@ApiBearerAuth()
@Controller('api/v1/variants')
export class ParetoController {
  constructor(
    private readonly models: ModelsService,
    private readonly measurements: MeasurementsService,
  ) {}

  @Get('pareto')
  @ApiOkResponse({ description: '{ points, pareto: ids on the front }' })
  pareto(@Query() query: ParetoQueryDto): { points: ParetoPoint[]; pareto: string[] } {
    this.models.getModel(query.modelId);
    const variants = this.models.listVariants({ modelId: query.modelId });
    const measured = this.measurements
      .summaryByVariant(variants.map((v) => v.id))
      .filter((m) => m.p50_ms !== null && (!query.profileId || m.profile_id === query.profileId));
    const points = variants.map((v): ParetoPoint => {
      const own = measured.filter((m) => m.variant_id === v.id);
      const recorded = (v.provenance ?? {}) as LatencyProvenance;
      const recordedFits =
        typeof recorded.latencyMs === 'number' &&
        (!query.profileId || !recorded.profileId || recorded.profileId === query.profileId);
      const p50Ms = own.length
        ? own.reduce((sum, m) => sum + m.p50_ms! * m.n, 0) / own.reduce((n, m) => n + m.n, 0)
        : recordedFits
          ? recorded.latencyMs!
          : null;
      return {
        variantId: v.id,
        accuracy: v.accuracy,
        p50Ms,
        latencySource: own.length
          ? 'measured'
          : recordedFits
            ? (recorded.latencySource ?? null)
            : null,
        bytes: v.bytes,
        params: v.params,
        flops: v.flops,
        method: v.method,
      };
    });
    return { points, pareto: paretoFront(points) };
  }
}
