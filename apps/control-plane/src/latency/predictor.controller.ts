import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { LatencyPredictorService } from './latency-predictor.service';

@ApiTags('profiles')
@ApiBearerAuth()
@Controller('api/v1/profiles')
export class PredictorController {
  constructor(private readonly predictor: LatencyPredictorService) {}

  @Get(':id/predictor')
  @ApiOkResponse({
    description:
      'Calibration of the latency predictor for a device class (factors per class and device) ' +
      'and its quality on held-out measurements (share within ±10%, MAPE, pairs)',
  })
  get(@Param('id') id: string) {
    return this.predictor.view(id);
  }
}
