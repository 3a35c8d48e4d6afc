import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { MeasurementsService } from './measurements.service';

export class MeasurementsQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  deviceId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  variantId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  profileId?: string;

  @ApiPropertyOptional({ default: 100, maximum: 10000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10000)
  limit?: number;
}

@ApiTags('measurements')
@ApiBearerAuth()
@Controller('api/v1/measurements')
export class MeasurementsController {
  constructor(private readonly measurements: MeasurementsService) {}

  @Get()
  @ApiOkResponse({
    description: 'Benchmark measurements, newest first, filtered by device, variant and/or profile',
  })
  query(@Query() q: MeasurementsQueryDto) {
    return this.measurements.query({
      deviceId: q.deviceId,
      variantId: q.variantId,
      profileId: q.profileId,
      limit: q.limit ?? 100,
    });
  }
}
