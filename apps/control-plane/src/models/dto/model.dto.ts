import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';

export class CreateModelQueryDto {
  @ApiProperty({ example: 'resnet20-cifar10' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({ enum: ['onnx', 'engine'], default: 'onnx' })
  @IsOptional()
  @IsIn(['onnx', 'engine'])
  format?: 'onnx' | 'engine';

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;
}

/** Variant metadata travels as query parameters beside the raw file body. */
export class CreateVariantQueryDto {
  @ApiProperty({ example: 'resnet20-aap-50' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiProperty({ example: 'aap' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  method!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  parentVariantId?: string;

  @ApiPropertyOptional({ description: 'JSON object of method options' })
  @IsOptional()
  @Transform(({ value }) => parseJsonObject(value))
  @IsObject({ message: 'options must be a JSON object' })
  options?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'JSON object: dataset, seed, job id, code version ...' })
  @IsOptional()
  @Transform(({ value }) => parseJsonObject(value))
  @IsObject({ message: 'provenance must be a JSON object' })
  provenance?: Record<string, unknown>;

  @ApiPropertyOptional()
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  params?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  flops?: number;

  @ApiPropertyOptional({ description: 'Top-1 accuracy, 0..1' })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(1)
  accuracy?: number;
}

export class ListVariantsQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  modelId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  method?: string;
}

export class CompareVariantsQueryDto {
  @ApiProperty({
    description: 'Comma-separated variant ids; the first is the baseline',
    example: 'var_a,var_b',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(2000)
  ids!: string;
}

function parseJsonObject(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}
