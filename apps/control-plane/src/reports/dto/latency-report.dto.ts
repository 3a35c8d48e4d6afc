import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';

export class LatencyReportQueryDto {
  @ApiPropertyOptional({ description: 'Variant id' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  variant?: string;

  @ApiPropertyOptional({ description: 'Device profile id', example: 'raspberry-pi-5' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  profile?: string;

  @ApiPropertyOptional({ description: 'Device group' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  group?: string;

  @ApiPropertyOptional({ enum: ['json', 'csv'], default: 'json' })
  @IsOptional()
  @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';
}
