/**
 * Thresholds with hysteresis: an alarm is raised when a value crosses its threshold and can be
 * raised again only after the value has come back past the threshold by the hysteresis, so a
 * value hovering at the threshold (21.99, 22.01, 21.98, …) raises one alarm, not one a reading.
 * Pure: no Deno APIs.
 */

export interface AlarmSettings {
  readonly highC: number;
  readonly lowC: number;
  readonly hysteresisC: number;
  readonly highHumidity: number;
  readonly hysteresisHumidity: number;
  readonly doorAlarm: boolean;
}

export interface Alarm {
  readonly sensor: "temperature" | "humidity" | "door";
  readonly reason: string;
  readonly value: number | string;
}

/** One condition: raised once when `over` holds, cleared once `back` holds. */
class Latch {
  #raised = false;
  /** True when this value raises the alarm (it was clear and the value is over). */
  step(over: boolean, back: boolean): boolean {
    if (this.#raised) {
      if (back) this.#raised = false;
      return false;
    }
    if (over) this.#raised = true;
    return over;
  }
}

export class Alarms {
  readonly #s: AlarmSettings;
  readonly #high = new Latch();
  readonly #low = new Latch();
  readonly #humid = new Latch();
  readonly #door = new Latch();

  constructor(settings: AlarmSettings) {
    if (settings.lowC >= settings.highC) {
      throw new RangeError(
        `lowC (${settings.lowC}) must be below highC (${settings.highC}); change the settings`,
      );
    }
    this.#s = settings;
  }

  /** The alarms one temperature/humidity reading raises (none while they stay raised). */
  reading(temperatureC: number, humidity: number): Alarm[] {
    const s = this.#s;
    const out: Alarm[] = [];
    if (this.#high.step(temperatureC > s.highC, temperatureC <= s.highC - s.hysteresisC)) {
      out.push({ sensor: "temperature", reason: `above ${s.highC} °C`, value: temperatureC });
    }
    if (this.#low.step(temperatureC < s.lowC, temperatureC >= s.lowC + s.hysteresisC)) {
      out.push({ sensor: "temperature", reason: `below ${s.lowC} °C`, value: temperatureC });
    }
    if (
      this.#humid.step(humidity > s.highHumidity, humidity <= s.highHumidity - s.hysteresisHumidity)
    ) {
      out.push({ sensor: "humidity", reason: `above ${s.highHumidity} %`, value: humidity });
    }
    return out;
  }

  /** The alarm a door state raises: once per opening (the sensor repeats its state). */
  door(open: boolean): Alarm[] {
    if (!this.#s.doorAlarm) return [];
    return this.#door.step(open, !open)
      ? [{ sensor: "door", reason: "door opened", value: "open" }]
      : [];
  }
}
