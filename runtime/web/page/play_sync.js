// @ts-check
// The same moment on several cameras. Each row loads its own playlist, so rows started together
// drift apart: one starts a second later, one waits for a slow fetch (a screenshot once showed
// lane at 15:07:12 and door at 15:07:11). Every TICK_MS the rows' wall-clock times are compared
// and the rows ahead wait for the one furthest behind, as multi-view NVR players do: a little
// ahead, they play a little slower; further ahead, they pause until it has caught up. The row
// behind is never pushed on: it may be showing what the others skipped (a gap in their
// recordings jumps their clock ahead, the moments of this camera in that gap are still worth
// seeing), or it may be loading, and then the others wait for it.

/** How often the rows are compared. */
export const TICK_MS = 100;

/**
 * How far apart the rows may be, in recording time, at `rate`: 0.3 s at 1× and 2×, then
 * 0.15 s of watching (a correction takes a tick or two, which is more recording time when fast).
 * @param {number} rate
 */
export function toleranceMs(rate) {
  return 300 * Math.max(1, rate / 2);
}

/** @typedef {{ hold: boolean, factor: number }} Steer */

/**
 * What each row should do now. Pure, for the tests.
 * @param {readonly ({ wallMs: number, held: boolean } | null)[]} rows a row's wall-clock time and
 *   whether the sync holds it now; null for a row that takes no part (nothing shown yet, ended,
 *   failed, paused by the operator)
 * @param {number} rate
 * @returns {Steer[]}
 */
export function syncPlan(rows, rate) {
  const walls = rows.flatMap((r) => (r ? [r.wallMs] : []));
  const behind = Math.min(...walls);
  const tol = toleranceMs(rate);
  return rows.map((r) => {
    if (!r || walls.length < 2) return { hold: false, factor: 1 };
    const ahead = r.wallMs - behind;
    // A held row waits until it is nearly level (it resumes a little late, so not at 0).
    if (r.held) return { hold: ahead > tol / 6, factor: 1 };
    if (ahead > tol * 0.6) return { hold: true, factor: 1 };
    // Slower by up to a quarter: 0.1 s ahead at 1× is made up in under half a second.
    if (ahead > tol / 6) {
      return { hold: false, factor: 1 - Math.min(0.25, ahead / (tol * 2)) };
    }
    return { hold: false, factor: 1 };
  });
}

/**
 * @typedef {object} Synced
 * @property {() => number | null} wallMs
 * @property {() => boolean} inStep
 * @property {() => boolean} held whether the sync holds it now
 * @property {(hold: boolean, factor: number) => void} steer
 * @property {{ dataset: Record<string, string | undefined> }} video
 */

/**
 * Keeps the players `rows()` gives in step until stopped. Each tick also writes every row's
 * wall-clock time to its video's `data-wall-ms`, all read at one instant (the page tests compare
 * them).
 * @param {() => readonly Synced[]} rows
 * @param {() => number} rate
 * @returns {{ stop(): void }}
 */
export function keepInSync(rows, rate) {
  const timer = setInterval(() => {
    const list = rows();
    const state = list.map((p) => {
      const wallMs = p.wallMs();
      if (wallMs !== null) p.video.dataset.wallMs = String(Math.round(wallMs));
      return wallMs === null || !p.inStep() ? null : { wallMs, held: p.held() };
    });
    const plan = syncPlan(state, rate());
    for (const [i, p] of list.entries()) {
      const s = plan[i];
      if (!s || !state[i]) continue;
      p.steer(s.hold, s.factor);
    }
  }, TICK_MS);
  return { stop: () => clearInterval(timer) };
}
