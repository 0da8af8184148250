import test from "ava";
import {
  EXP_1,
  EXP_15,
  EXP_5,
  FIXED_1,
  calcLoad,
  loadToDecimal,
  stepLoads,
  toLoadNumbers,
  ZERO_LOADS,
} from "../../fuse/server/load/decay.js";

test("calc_load: first step with one task, kernel rounding up while rising", (t) => {
  // (0*1884 + 2048*164 + 2047) / 2048 = 164.99… → 164
  t.is(calcLoad(0, EXP_1, FIXED_1), 164);
  t.is(calcLoad(0, EXP_5, FIXED_1), 34);
  t.is(calcLoad(0, EXP_15, FIXED_1), 11);
  // Falling: truncated, so idle decays to exactly 0.
  t.is(calcLoad(1, EXP_1, 0), 0);
});

test("a steady load converges to exactly n.00 and idle back to 0.00", (t) => {
  let loads = ZERO_LOADS;
  for (let i = 0; i < 2000; i++) loads = stepLoads(loads, 3);
  t.deepEqual(loads, { load1: 3 * FIXED_1, load5: 3 * FIXED_1, load15: 3 * FIXED_1 });
  t.deepEqual(toLoadNumbers(loads), { load1: 3, load5: 3, load15: 3 });
  for (let i = 0; i < 5000; i++) loads = stepLoads(loads, 0);
  t.deepEqual(loads, { load1: 0, load5: 0, load15: 0 });
});

test("one minute of one runnable task matches the kernel's 0.63-ish", (t) => {
  let loads = ZERO_LOADS;
  for (let i = 0; i < 12; i++) loads = stepLoads(loads, 1);
  // 1 - e^-1 = 0.632; fixed point with round-up gives 0.63
  t.is(toLoadNumbers(loads).load1, 0.63);
});

test("loadToDecimal follows /proc/loadavg's FIXED_1/200 offset and truncation", (t) => {
  t.is(loadToDecimal(0), 0);
  t.is(loadToDecimal(FIXED_1), 1);
  t.is(loadToDecimal(FIXED_1 / 2), 0.5);
  // 1023/2048 = 0.4995 → kernel prints 0.50 (offset 10/2048 pushes it over)
  t.is(loadToDecimal(1023), 0.5);
  // 9/2048 = 0.0044 → 0.00; 11/2048 = 0.0054 → (21*100)>>11 = 1 → 0.01
  t.is(loadToDecimal(9), 0);
  t.is(loadToDecimal(11), 0.01);
  t.is(loadToDecimal(5 * FIXED_1 + 1843), 5.9);
});
