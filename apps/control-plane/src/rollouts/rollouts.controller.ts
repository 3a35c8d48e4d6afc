import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Sse,
  type MessageEvent,
} from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Observable } from 'rxjs';
import { CreateRolloutDto, ListRolloutsQueryDto } from './dto/rollout.dto';
import { TARGETS_DETAILS, type TargetsDetail } from './rollout.view';
import { RolloutsService } from './rollouts.service';

class AbortRolloutDto {
  @ApiPropertyOptional({ example: 'customer report of wrong answers' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}

class RolloutDetailQueryDto {
  @ApiPropertyOptional({
    enum: TARGETS_DETAILS,
    description:
      'all (default): every target; summary: none, only targetCounts (cheap to poll at fleet scale); failed: failed, rolled-back and skipped targets',
  })
  @IsOptional()
  @IsIn(TARGETS_DETAILS)
  targets?: TargetsDetail;
}

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('api/v1/rollouts')
export class RolloutsController {
  constructor(private readonly rollouts: RolloutsService) {}

  @Post()
  @ApiCreatedResponse({ description: 'The rollout, planned into waves and started' })
  create(@Body() body: CreateRolloutDto) {
    return this.rollouts.create(body);
  }

  @Get()
  list(@Query() query: ListRolloutsQueryDto) {
    return this.rollouts.list(query.limit ?? 50);
  }

  @Get(':id')
  get(@Param('id') id: string, @Query() query: RolloutDetailQueryDto) {
    return this.rollouts.get(id, query.targets ?? 'all');
  }

  @Post(':id/pause')
  @HttpCode(200)
  pause(@Param('id') id: string) {
    return this.rollouts.pause(id);
  }

  @Post(':id/resume')
  @HttpCode(200)
  resume(@Param('id') id: string) {
    return this.rollouts.resume(id);
  }

  @Post(':id/abort')
  @HttpCode(200)
  @ApiOkResponse({ description: 'Aborted; devices already switched are being rolled back' })
  abort(@Param('id') id: string, @Body() body: AbortRolloutDto) {
    return this.rollouts.abort(id, body?.reason);
  }

  /** Server-sent events: `state`, `wave` and `target`, each carrying the changed part of the view. */
  @Sse(':id/events')
  events(@Param('id') id: string): Observable<MessageEvent> {
    // Throws 404 before the stream opens for an unknown id.
    this.rollouts.get(id);
    return new Observable<MessageEvent>((subscriber) =>
      this.rollouts.watch(id, (event) => subscriber.next({ type: event.type, data: event.data })),
    );
  }
}
