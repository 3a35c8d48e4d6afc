import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../health/metrics.service';

/** The latency module's Prometheus series, on the instance's registry. */
@Injectable()
export class LatencyMetrics {
  /** Per-device figures behind answers: fresh benchmarks, cache hits, failed attempts. */
  readonly deviceResults: Counter;
  /** Answers by where their p50 came from. */
  readonly answers: Counter;
  /** Held-out MAPE of the calibrated predictor per device class (absent until measurable). */
  readonly predictorMape: Gauge;

  constructor(metrics: MetricsService) {
    this.deviceResults = new Counter({
      name: 'ec_latency_device_results_total',
      help: 'Device latencies behind measured answers, by outcome (measured, cached, failed)',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    });
    this.answers = new Counter({
      name: 'ec_latency_answers_total',
      help: 'Latency answers by source (measured, predicted fallback)',
      labelNames: ['source'],
      registers: [metrics.registry],
    });
    this.predictorMape = new Gauge({
      name: 'ec_latency_predictor_mape_percent',
      help: 'Calibrated predictor MAPE on held-out measurements, by profile',
      labelNames: ['profile'],
      registers: [metrics.registry],
    });
  }
}
