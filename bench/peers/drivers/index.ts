/** Every contestant, in the order the bench runs and reports them: baselines first, then upkeep and the peers. */
import type { Driver } from '../driver.js';
import { cSpawn, nodeSpawn } from './baselines.js';
import { pm2 } from './pm2.js';
import { runit } from './runit.js';
import { s6 } from './s6.js';
import { supervisord } from './supervisord.js';
import { upkeep } from './upkeep.js';

export const DRIVERS: readonly Driver[] = [cSpawn, nodeSpawn, upkeep, supervisord, runit, s6, pm2];
