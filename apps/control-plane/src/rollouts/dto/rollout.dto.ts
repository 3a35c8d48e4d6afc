import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { DeviceSelectorDto } from '../../devices/device-selector';
import {
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BACKOFF_MS,
  MAX_RETRIES,
  MAX_RETRY_BACKOFF_MS,
} from '../rollout-plan';

export class CanaryDto {
  @ApiPropertyOptional({ description: 'Number of canary devices', example: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  devices?: number;

  @ApiPropertyOptional({ description: 'Canary share of the fleet, percent', example: 5 })
  @IsOptional()
  @IsNumber()
  @Min(0.01)
  @Max(100)
  percent?: number;
}

export class RolloutStrategyDto {
  @ApiPropertyOptional({ type: CanaryDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => CanaryDto)
  canary?: CanaryDto;

  @ApiProperty({ description: 'Cumulative percentages, the last one 100', example: [10, 50, 100] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(20)
  @IsNumber({}, { each: true })
  waves!: number[];

  @ApiProperty({ description: 'Soak time after each healthy wave, ms', example: 60_000 })
  @IsInt()
  @Min(0)
  @Max(7 * 24 * 3600_000)
  soakMs!: number;

  @ApiPropertyOptional({
    description:
      "Times a device's step is sent again after the device failed it with an error it marked retryable",
    default: DEFAULT_RETRIES,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_RETRIES)
  retries?: number;

  @ApiPropertyOptional({
    description: 'Wait before the first retry, ms; doubled for each later one',
    default: DEFAULT_RETRY_BACKOFF_MS,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_RETRY_BACKOFF_MS)
  retryBackoffMs?: number;
}

export class AbortRulesDto {
  @ApiPropertyOptional({
    description: 'Share of finished devices that may fail (0..1)',
    default: 0,
  })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  maxFailureRate?: number;

  @ApiPropertyOptional({
    description: 'Finished devices before the failure rate counts',
    default: 1,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  minDevices?: number;

  @ApiPropertyOptional({ description: 'Highest new p50 / previous p50 on a device', example: 1.2 })
  @IsOptional()
  @IsNumber()
  @Min(1)
  maxLatencyRegression?: number;

  @ApiPropertyOptional({ description: 'Highest allowed p99, ms', example: 50 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  p99CeilingMs?: number;

  @ApiPropertyOptional({
    description: 'Lowest agreement with the previous variant (0..1)',
    example: 0.98,
  })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  minAgreement?: number;
}

export class CreateRolloutDto {
  @ApiProperty()
  @IsString()
  @MaxLength(64)
  variantId!: string;

  @ApiProperty({ type: DeviceSelectorDto })
  @ValidateNested()
  @Type(() => DeviceSelectorDto)
  selector!: DeviceSelectorDto;

  @ApiProperty({ type: RolloutStrategyDto })
  @ValidateNested()
  @Type(() => RolloutStrategyDto)
  strategy!: RolloutStrategyDto;

  @ApiPropertyOptional({ type: AbortRulesDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => AbortRulesDto)
  abortRules?: AbortRulesDto;

  @ApiPropertyOptional({
    description:
      'A device still offline this long after its wave starts is skipped; a command a device took gets at least 10 minutes',
    default: 600_000,
  })
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(7 * 24 * 3600_000)
  deviceDeadlineMs?: number;
}

export class ListRolloutsQueryDto {
  @ApiPropertyOptional({ default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}
