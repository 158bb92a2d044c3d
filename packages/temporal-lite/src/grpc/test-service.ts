/** temporal.api.testservice.v1.TestService: the time-skipping controls of the Java test server. */
import type { Engine } from '../engine/engine';
import type { P } from '../engine/types';
import { toMs, ts } from '../engine/util';
import type { HandlerMap } from './server';
import { errors } from './errors';

export function testServiceHandlers(engine: Engine): HandlerMap {
  const clock = engine.clock;
  const requireSkipping = (): void => {
    if (!clock.timeSkipping) throw errors.unimplemented('time skipping is not enabled on this server');
  };
  return {
    LockTimeSkipping: () => {
      requireSkipping();
      clock.lock();
      return {};
    },
    UnlockTimeSkipping: () => {
      requireSkipping();
      clock.unlock();
      return {};
    },
    /** Unlocks until virtual time has advanced by `duration`, then locks again and answers. */
    UnlockTimeSkippingWithSleep: (req: P) => {
      requireSkipping();
      return new Promise<P>((resolve) => {
        clock.after(toMs(req.duration), () => {
          clock.endSleep();
          resolve({});
        });
        clock.beginSleep();
      });
    },
    Sleep: (req: P) => {
      requireSkipping();
      return new Promise<P>((resolve) => clock.after(toMs(req.duration), () => resolve({})));
    },
    SleepUntil: (req: P) => {
      requireSkipping();
      return new Promise<P>((resolve) => clock.schedule(toMs(req.timestamp), () => resolve({})));
    },
    GetCurrentTime: () => ({ time: ts(clock.now()) }),
  };
}

export function healthHandlers(): HandlerMap {
  return { Check: () => ({ status: 'SERVING' }) };
}
