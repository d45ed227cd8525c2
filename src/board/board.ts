// A board's management planes, wired the way line cards are: cage n (1-based) sits on channel
// (n-1) mod 8 of the PCA9548 at 0x70 + floor((n-1)/8), and owns GPIO lines (n-1)*6 .. (n-1)*6+5
// named cage<n>-mod-abs, -rx-los, -tx-fault, -tx-disable, -rs0, -rs1. Both planes share the same
// Cage objects, so a plug through any path is seen through both at once.
import { Cage, type CageModule } from "./cage.ts";
import { GpioBank } from "./gpio-bank.ts";
import { I2cBus, Pca9548 } from "./i2c-bus.ts";
import { BoardIdEeprom, type BoardIdentityRecord, encodeTlvInfo } from "./id-eeprom.ts";
import { Lm75Sensor } from "./lm75.ts";

export const MAX_CAGES_PER_BOARD = 64;
export const CAGES_PER_MUX = 8;
export const FIRST_MUX_ADDRESS = 0x70;
export const CAGE_LINE_SUFFIXES = ["mod-abs", "rx-los", "tx-fault", "tx-disable", "rs0", "rs1"] as const;
export type CageLine = (typeof CAGE_LINE_SUFFIXES)[number];

/** Where cage n is on the I2C plane. */
export function cageI2cLocation(cageId: number): { muxAddress: number; channel: number } {
  return {
    muxAddress: FIRST_MUX_ADDRESS + Math.floor((cageId - 1) / CAGES_PER_MUX),
    channel: (cageId - 1) % CAGES_PER_MUX,
  };
}

/** The GPIO line index of one of cage n's signals. */
export function cageLineIndex(cageId: number, line: CageLine): number {
  return (cageId - 1) * CAGE_LINE_SUFFIXES.length + CAGE_LINE_SUFFIXES.indexOf(line);
}

/** The board's own devices on the root segment, besides its cages. */
export interface BoardExtras {
  /** An ONIE TlvInfo identity EEPROM at 0x57 with this content. */
  idEeprom?: BoardIdentityRecord;
  /** An LM75 temperature sensor at 0x48 reading this temperature. */
  temperatureSensor?: { temperatureC: number };
}

export interface BoardLayout {
  cageCount: number;
  formFactor: string;
  extras?: BoardExtras;
}

export class BoardPlanes<M extends CageModule = CageModule> {
  readonly i2c = new I2cBus();
  readonly gpio = new GpioBank();
  readonly muxes: Pca9548[] = [];
  readonly cages: Cage<M>[] = [];
  #idEeprom: BoardIdEeprom | undefined;
  #identity: BoardIdentityRecord | undefined;
  #temperatureSensor: Lm75Sensor | undefined;

  constructor(layout: BoardLayout) {
    if (
      !Number.isInteger(layout.cageCount) || layout.cageCount < 1 || layout.cageCount > MAX_CAGES_PER_BOARD
    ) {
      throw new RangeError(`a board has 1..${MAX_CAGES_PER_BOARD} cages, not ${layout.cageCount}`);
    }
    for (let id = 1; id <= layout.cageCount; id++) {
      const cage = new Cage<M>(id, layout.formFactor);
      this.cages.push(cage);
      const { muxAddress, channel } = cageI2cLocation(id);
      let mux = this.muxes.find((m) => m.address === muxAddress);
      if (!mux) {
        mux = new Pca9548(muxAddress, `mux${this.muxes.length}`);
        this.muxes.push(mux);
        this.i2c.root.attach(mux);
      }
      mux.channels[channel].attach(cage);
      this.#wireGpio(cage);
    }
    this.setExtras(layout.extras);
  }

  get idEeprom(): BoardIdEeprom | undefined {
    return this.#idEeprom;
  }

  /** What the ID EEPROM holds, as given. */
  get identity(): BoardIdentityRecord | undefined {
    return this.#identity;
  }

  get temperatureSensor(): Lm75Sensor | undefined {
    return this.#temperatureSensor;
  }

  /** Puts in the board's own devices, replacing those it had (the cages stay as they are). */
  setExtras(extras: BoardExtras = {}): void {
    // Made first: a record that does not encode leaves the board as it was.
    const idEeprom = extras.idEeprom ? new BoardIdEeprom(encodeTlvInfo(extras.idEeprom)) : undefined;
    if (this.#idEeprom) this.i2c.root.detach(this.#idEeprom);
    if (this.#temperatureSensor) this.i2c.root.detach(this.#temperatureSensor);
    this.#idEeprom = idEeprom;
    this.#identity = idEeprom ? { ...extras.idEeprom! } : undefined;
    this.#temperatureSensor = extras.temperatureSensor
      ? new Lm75Sensor(extras.temperatureSensor.temperatureC)
      : undefined;
    if (this.#idEeprom) this.i2c.root.attach(this.#idEeprom);
    if (this.#temperatureSensor) this.i2c.root.attach(this.#temperatureSensor);
  }

  cage(id: number): Cage<M> | undefined {
    return this.cages[id - 1];
  }

  #wireGpio(cage: Cage<M>): void {
    const name = (line: CageLine) => `cage${cage.id}-${line}`;
    // Host-side pull-ups (SFF-8419): with no module, MOD_ABS, RX_LOS and TX_FAULT read high.
    const modAbs = this.gpio.addInput(name("mod-abs"), () => cage.module === null);
    const rxLos = this.gpio.addInput(name("rx-los"), () => cage.module?.rxLos ?? true);
    const txFault = this.gpio.addInput(name("tx-fault"), () => cage.module?.txFault ?? true);
    // Module-side pulls: TX_DISABLE up (laser off until driven low), RS0/RS1 down.
    const txDisable = this.gpio.addOutput(
      name("tx-disable"),
      true,
      (high) => cage.module?.setTxDisable(high),
    );
    const rs0 = this.gpio.addOutput(name("rs0"), false, (high) => cage.module?.setRs0(high));
    const rs1 = this.gpio.addOutput(name("rs1"), false, (high) => cage.module?.setRs1(high));
    const refresh = () => {
      this.gpio.refresh(modAbs);
      this.gpio.refresh(rxLos);
      this.gpio.refresh(txFault);
    };
    cage.wire({
      connected: (module) => {
        // The new module sees the levels the host drives now (a latched TX_FAULT it brings in is
        // not reset by a TX_DISABLE the host held before).
        module.setTxDisable(this.gpio.level(txDisable), { atInsertion: true });
        module.setRs0(this.gpio.level(rs0));
        module.setRs1(this.gpio.level(rs1));
        refresh();
      },
      disconnected: refresh,
      // The module may have moved one of its outputs (RX_LOS, TX_FAULT).
      changed: refresh,
    });
  }
}
