import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { DeviceSelectorDto } from '../../devices/device-selector';
import { JOB_METHODS, type JobMethod } from '../job.types';

export class JobDatasetDto {
  @ApiProperty({ enum: ['mnist', 'fashion-mnist', 'synthetic'] })
  @IsIn(['mnist', 'fashion-mnist', 'synthetic'])
  name!: 'mnist' | 'fashion-mnist' | 'synthetic';

  @ApiPropertyOptional({ description: 'Use only the first n training examples' })
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(60_000)
  limitTrain?: number;

  @ApiPropertyOptional({ description: 'Use only the first n test examples' })
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(10_000)
  limitTest?: number;
}

export class AapJobOptionsDto {
  @ApiPropertyOptional({ default: 10 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(200)
  maxRounds?: number;

  @ApiPropertyOptional({ description: 'Fine-tuning steps per round (instead of epochs)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  steps?: number;

  @ApiPropertyOptional({ description: 'Fine-tuning epochs per round (default 1)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  epochs?: number;

  @ApiPropertyOptional({ default: 64 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4096)
  batchSize?: number;

  @ApiPropertyOptional({ default: 0.01 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(10)
  lr?: number;

  @ApiPropertyOptional({ default: 5e-4 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  weightDecay?: number;

  @ApiPropertyOptional({ description: 'First threshold step (default: from the model)' })
  @IsOptional()
  @IsNumber()
  @Min(0)
  lambda?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  validationCount?: number;

  @ApiPropertyOptional({ default: 8 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  calibrationBatches?: number;

  @ApiPropertyOptional({ default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  minChannels?: number;

  @ApiPropertyOptional({
    default: 1,
    description: 'Every pruned group keeps a multiple of this many channels, or all it has',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(256)
  channelMultiple?: number;

  @ApiPropertyOptional({ description: 'Wall-clock budget of the search in ms' })
  @IsOptional()
  @IsInt()
  @Min(1000)
  wallClockMs?: number;

  @ApiPropertyOptional({ default: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  seed?: number;
}

export class SqakdJobOptionsDto {
  @ApiPropertyOptional({ default: 'w8a8', example: 'w4a8' })
  @IsOptional()
  @Matches(/^w[2348]a[2348]$/i, { message: 'bits must look like w4a8 (each 2, 3, 4 or 8)' })
  bits?: string;

  @ApiPropertyOptional({ enum: ['learned-interval', 'lsq', 'pact', 'dorefa'], default: 'lsq' })
  @IsOptional()
  @IsIn(['learned-interval', 'lsq', 'pact', 'dorefa'])
  quantizer?: 'learned-interval' | 'lsq' | 'pact' | 'dorefa';

  @ApiPropertyOptional({ default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(500)
  epochs?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  stepsPerEpoch?: number;

  @ApiPropertyOptional({ default: 64 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4096)
  batchSize?: number;

  @ApiPropertyOptional({ enum: ['kd', 'ce', 'ce+kd'], default: 'kd' })
  @IsOptional()
  @IsIn(['kd', 'ce', 'ce+kd'])
  loss?: 'kd' | 'ce' | 'ce+kd';

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  evalLimit?: number;

  @ApiPropertyOptional({ default: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  seed?: number;
}

export class JobOptionsDto {
  @ApiPropertyOptional({ type: AapJobOptionsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => AapJobOptionsDto)
  aap?: AapJobOptionsDto;

  @ApiPropertyOptional({ type: SqakdJobOptionsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => SqakdJobOptionsDto)
  sqakd?: SqakdJobOptionsDto;
}

export class JobObjectiveDto {
  @ApiProperty({ enum: ['accuracy', 'params', 'flops', 'size', 'latency'] })
  @IsIn(['accuracy', 'params', 'flops', 'size', 'latency'])
  metric!: 'accuracy' | 'params' | 'flops' | 'size' | 'latency';

  @ApiPropertyOptional({
    description: 'Fraction to remove (params/flops/size) or p50 milliseconds (latency)',
  })
  @IsOptional()
  @IsNumber()
  target?: number;

  @ApiProperty({ description: 'Allowed top-1 drop in percentage points', example: 1 })
  @IsNumber()
  @Min(0)
  @Max(100)
  maxAccuracyDrop!: number;

  @ApiPropertyOptional({ type: DeviceSelectorDto, description: 'Devices whose latency counts' })
  @IsOptional()
  @ValidateNested()
  @Type(() => DeviceSelectorDto)
  device?: DeviceSelectorDto;

  @ApiProperty({ enum: ['measured', 'predicted'] })
  @IsIn(['measured', 'predicted'])
  latencySource!: 'measured' | 'predicted';

  @ApiPropertyOptional({ enum: ['fail', 'predicted'], default: 'fail' })
  @IsOptional()
  @IsIn(['fail', 'predicted'])
  fallback?: 'fail' | 'predicted';

  @ApiPropertyOptional({ description: 'Devices each candidate is measured on', default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  k?: number;

  @ApiPropertyOptional({ description: 'How long to wait for k online devices', default: 30_000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  waitForDevicesMs?: number;
}

export class CreateJobDto {
  @ApiProperty({ example: 'var_0123456789abcdef0123' })
  @IsString()
  @MaxLength(64)
  variantId!: string;

  @ApiProperty({ type: JobDatasetDto })
  @ValidateNested()
  @Type(() => JobDatasetDto)
  dataset!: JobDatasetDto;

  @ApiProperty({ enum: JOB_METHODS, isArray: true, example: ['aap', 'sqakd'] })
  @IsArray()
  @ArrayMinSize(1, { message: 'pipeline needs at least one method (aap, sqakd)' })
  @ArrayMaxSize(JOB_METHODS.length)
  @ArrayUnique()
  @IsIn(JOB_METHODS, { each: true, message: 'pipeline methods must be aap or sqakd' })
  pipeline!: JobMethod[];

  @ApiPropertyOptional({ type: JobOptionsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => JobOptionsDto)
  options?: JobOptionsDto;

  @ApiProperty({ type: JobObjectiveDto })
  @ValidateNested()
  @Type(() => JobObjectiveDto)
  objective!: JobObjectiveDto;

  @ApiPropertyOptional({ example: 'small cnn for pi5' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;
}
