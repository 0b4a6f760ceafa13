import { describe, expect, it } from 'vitest';
import { msUntil, planBudget } from '../src/gate/budget.js';

describe('planBudget: the time after the decisions is reserved up front', () => {
  const reserve = { afterDecideMs: 5_000, answerMs: 500 };

  it('keeps the full reserve for alerts when there is time', () => {
    const b = planBudget(60_000, reserve, 1_000);
    expect(b.finishBy).toBe(1_000 + 59_500);
    expect(b.decideBy).toBe(1_000 + 54_500);
  });

  it('gives decisions and the work after them half each when time is short', () => {
    const b = planBudget(4_500, reserve, 0);
    expect(b.finishBy).toBe(4_000);
    expect(b.decideBy).toBe(2_000);
  });

  it('never plans past the deadline, even with no time left', () => {
    const b = planBudget(100, reserve, 0);
    expect(b.decideBy).toBe(0);
    expect(b.finishBy).toBe(0);
    expect(msUntil(b.finishBy, 10)).toBe(1);
  });
});
