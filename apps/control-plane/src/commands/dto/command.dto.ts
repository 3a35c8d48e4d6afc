import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

export class CommandTargetDto {
  @ApiPropertyOptional({ description: 'One device; give this or group' })
  @IsOptional()
  @IsString()
  deviceId?: string;

  @ApiPropertyOptional({ description: 'Every device in a group' })
  @IsOptional()
  @IsString()
  group?: string;

  @ApiPropertyOptional({ description: 'Seconds until the command expires', default: 900 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  ttlSeconds?: number;
}

export class BenchmarkInputDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  @ApiProperty({ example: [1, 3, 32, 32] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(8)
  @IsInt({ each: true })
  @Min(1, { each: true })
  shape!: number[];
}

export class BenchmarkThreadsDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  intraOp?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  interOp?: number;
}

export class SendBenchmarkDto extends CommandTargetDto {
  @ApiProperty()
  @IsString()
  variantId!: string;

  @ApiProperty({ type: BenchmarkInputDto })
  @ValidateNested()
  @Type(() => BenchmarkInputDto)
  input!: BenchmarkInputDto;

  @ApiPropertyOptional({ default: 10 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000)
  warmup?: number;

  @ApiPropertyOptional({ default: 100 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  runs?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3_600_000)
  timeBudgetMs?: number;

  @ApiPropertyOptional({ type: BenchmarkThreadsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => BenchmarkThreadsDto)
  threads?: BenchmarkThreadsDto;

  @ApiPropertyOptional({ type: [String], example: ['cpu'] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(8)
  @IsString({ each: true })
  executionProviders?: string[];
}

export class ListCommandsQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  deviceId?: string;

  @ApiPropertyOptional({ enum: ['pending', 'acked', 'succeeded', 'failed', 'expired'] })
  @IsOptional()
  @IsIn(['pending', 'acked', 'succeeded', 'failed', 'expired'])
  status?: string;

  @ApiPropertyOptional({ default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}
