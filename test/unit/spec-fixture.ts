/** A complete ServiceSpec with every default, for unit tests that need one; override what matters. */
import type { ServiceSpec } from '../../src/config/spec.js';

export function serviceSpec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name: 'svc',
    file: '/etc/upkeep/services/svc.toml',
    command: ['server', '--port', '1'],
    directory: '/srv',
    environment: { PORT: '1' },
    restart: 'always',
    backoff: { initialMs: 100, maxMs: 1000, resetAfterMs: 10_000 },
    ready: 'started',
    startTimeoutMs: 30_000,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 2000,
    after: [],
    requires: [],
    groups: [],
    priority: 0,
    limits: {},
    log: { maxSize: 1024, keep: 2 },
    ...overrides,
  };
}
