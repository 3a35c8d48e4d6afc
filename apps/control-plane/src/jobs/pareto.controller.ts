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
import { paretoPoints } from './pareto-points';

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

/**
 * Every candidate of a model as a point (accuracy, p50, size) and the ids on the Pareto front
 * (pareto-points.ts: how latency is chosen, and an engine candidate and its ONNX twin as one).
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
    const measured = this.measurements.summaryByVariant(variants.map((v) => v.id));
    const points = paretoPoints(variants, measured, query.profileId);
    return { points, pareto: paretoFront(points) };
  }
}
