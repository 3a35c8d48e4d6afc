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
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { Observable } from 'rxjs';
import { CreateJobDto } from './dto/create-job.dto';
import { JobEventsBus } from './job-events.bus';
import { FINISHED_STATES } from './job.types';
import { JobsService } from './jobs.service';

class ListJobsQueryDto {
  @ApiPropertyOptional({ default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('api/v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly bus: JobEventsBus,
  ) {}

  @Post()
  @ApiCreatedResponse({ description: 'The queued job' })
  create(@Body() body: CreateJobDto) {
    return this.jobs.create(body);
  }

  @Get()
  @ApiOkResponse({ description: 'Jobs, newest first' })
  list(@Query() query: ListJobsQueryDto) {
    return this.jobs.list(query.limit);
  }

  @Get(':id')
  @ApiOkResponse({ description: 'State, progress, every round and the variants it produced' })
  get(@Param('id') id: string) {
    return this.jobs.get(id);
  }

  @Get(':id/log')
  @ApiOkResponse({ description: "The job's log lines" })
  log(@Param('id') id: string) {
    return this.jobs.log(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOkResponse({ description: 'Cancelled, or being stopped (state follows on the stream)' })
  cancel(@Param('id') id: string) {
    return this.jobs.cancel(id);
  }

  /**
   * Server-sent events: `state` (the whole job) first and at every change, `round` per recorded
   * round, `progress` while it trains. The stream ends after the job finishes.
   */
  @Sse(':id/events')
  events(@Param('id') id: string): Observable<MessageEvent> {
    const current = this.jobs.get(id);
    return new Observable<MessageEvent>((subscriber) => {
      subscriber.next({ type: 'state', data: current });
      if (FINISHED_STATES.includes(current.state)) {
        subscriber.complete();
        return undefined;
      }
      return this.bus.subscribe(id, (event) => {
        subscriber.next({ type: event.kind, data: event.data });
        if (event.kind === 'state' && FINISHED_STATES.includes(event.data.state)) {
          subscriber.complete();
        }
      });
    });
  }
}
