// The lab's ModuleFactory for SFP modules from the catalog (src/sfp/).
import type { Catalog } from "../sfp/catalog.ts";
import { SfpModule } from "../sfp/module.ts";
import type { ModuleSpec } from "../topology/model.ts";
import { LabError } from "./errors.ts";
import type { ModuleFactory } from "./lab.ts";
import { cageSerialNumber } from "./serial-number.ts";

export function sfpModuleFactory(catalog: Catalog): ModuleFactory<SfpModule> {
  // What each live module was made from, for describe() and for the store.
  const specs = new WeakMap<SfpModule, ModuleSpec>();
  // Serial numbers derived from the cage for modules given none (not part of their spec: a
  // restart derives the same one again).
  const derivedSerials = new WeakMap<SfpModule, string>();
  return {
    create(spec, { dataReadyDelayMs, seed, path }) {
      const profile = catalog.get(spec.profile);
      if (!profile) {
        const known = [...catalog.keys()].sort().join(", ") || "none";
        throw new LabError("invalid", `unknown module profile "${spec.profile}"; the catalog has: ${known}`);
      }
      const derivedSerial = spec.overrides.vendorSn === undefined
        ? cageSerialNumber(profile.identity.vendorSn, path)
        : undefined;
      let module: SfpModule;
      try {
        const overrides = { ...spec.overrides, dataReadyDelayMs };
        if (derivedSerial !== undefined) overrides.vendorSn = derivedSerial;
        module = new SfpModule(profile, { overrides, seed });
        if (spec.diagnostics) module.setDiagnostics(spec.diagnostics);
      } catch (error) {
        throw new LabError("invalid", (error as Error).message);
      }
      specs.set(module, structuredClone(spec));
      if (derivedSerial !== undefined) derivedSerials.set(module, derivedSerial);
      return module;
    },
    describe(module) {
      const spec = specs.get(module);
      const profile = module.profile;
      return {
        profile: profile.id,
        formFactor: profile.formFactor,
        description: profile.description,
        ...profile.identity,
        ...(derivedSerials.has(module) ? { vendorSn: derivedSerials.get(module) } : {}),
        ...spec?.overrides,
        ...(profile.wavelengthNm !== undefined ? { wavelengthNm: profile.wavelengthNm } : {}),
      };
    },
    specOf(module) {
      return structuredClone(specs.get(module) ?? { profile: module.profile.id, overrides: {} });
    },
  };
}

/** The catalog as GET /catalog lists it. */
export function catalogEntries(catalog: Catalog) {
  return [...catalog.values()].map((p) => ({
    id: p.id,
    formFactor: p.formFactor,
    description: p.description,
    vendorName: p.identity.vendorName,
    vendorPn: p.identity.vendorPn,
    ...(p.wavelengthNm !== undefined ? { wavelengthNm: p.wavelengthNm } : {}),
  }));
}
