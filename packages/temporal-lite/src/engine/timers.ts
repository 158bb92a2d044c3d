/** User timers: TimerStarted on the command, TimerFired on the (virtual) clock, TimerCanceled. */
import type { Engine } from './engine';
import type { P, Run } from './types';
import { toMs } from './util';

export function startTimer(engine: Engine, run: Run, a: P, completedId: number): void {
  const timerId: string = a.timerId;
  const startedEventId = engine.append(run, 'TimerStarted', {
    timerId,
    startToFireTimeout: a.startToFireTimeout,
    workflowTaskCompletedEventId: String(completedId),
  });
  const timer = engine.clock.after(toMs(a.startToFireTimeout), () => {
    const t = run.timers.get(timerId);
    if (!t || t.startedEventId !== startedEventId) return;
    run.timers.delete(timerId);
    engine.addExternal(run, {
      timerId,
      write: () => engine.append(run, 'TimerFired', { timerId, startedEventId: String(startedEventId) }),
    });
  });
  run.timers.set(timerId, { startedEventId, timer });
}

/**
 * CancelTimer. If the timer already fired while the task was in flight, its buffered
 * TimerFired is dropped and TimerCanceled written instead (real server behaviour).
 */
export function cancelTimer(engine: Engine, run: Run, timerId: string, completedId: number, identity: string | undefined): void {
  const t = run.timers.get(timerId);
  let startedEventId: number | undefined;
  if (t) {
    t.timer.cancel();
    run.timers.delete(timerId);
    startedEventId = t.startedEventId;
  } else {
    const i = run.buffered.findIndex((b) => b.timerId === timerId);
    if (i < 0) return;
    run.buffered.splice(i, 1);
    const started = [...run.events].reverse().find((e) => e.timerStartedEventAttributes?.timerId === timerId);
    startedEventId = started ? Number(started.eventId) : 0;
  }
  engine.append(run, 'TimerCanceled', {
    timerId,
    startedEventId: String(startedEventId),
    workflowTaskCompletedEventId: String(completedId),
    identity,
  });
}
