"""Transport emission factors, kg CO₂e per vehicle-km, in versioned tables.

A dispatch records the version of the table in force when it was made, so a
later table never changes an earlier figure; recomputing from an export uses
the version each event names. Add a new version rather than editing one.
"""

from __future__ import annotations

from typing import Final

# desnz-2024: meant to be the UK Government GHG Conversion Factors for Company Reporting 2024 (Department for
# Energy Security and Net Zero, June 2024; v1.1 of 30 October 2024), sheet "Delivery vehicles", unit "km",
# column "kg CO2e" (CO2, CH4 and N2O together), to three decimals. The values were first typed from memory.
# Checked since against what could be found of that workbook, which was not itself at hand: no value below
# is confirmed against the workbook's own cell, and each says what it was checked against. The table is left
# as it was (dispatches already record "desnz-2024"); a value found wrong goes into a new version.
DESNZ_2024: Final[dict[str, float]] = {
    # Not a DESNZ figure: DESNZ lists no cargo bike. Zero tailpipe emissions, and the assist motor's
    # electricity is taken as negligible at this precision: an assumption of ours.
    "cargo_bike": 0.0,
    # Meant: "Vans, Battery Electric Vehicle, Average (up to 3.5 tonnes)" (whose electricity DESNZ puts in
    # the "UK electricity for EVs" sheet, at the UK grid's intensity, which overstates a Swedish van).
    # NOT VERIFIED: no published copy of that row was found. Only the grid factor it rests on was seen
    # (UK electricity 2024, 0.20705 kg CO2e/kWh, in a third-party transcription of v1.1), which fits a van
    # using about 0.27 kWh/km, but that does not confirm 0.056. PROBABLY LOW: the 2025 set's rows (below)
    # imply 0.357 kWh/km, which at 2024's grid factor gives about 0.074 before transmission losses.
    # Hence desnz-2025, which new dispatches use.
    "electric_van": 0.056,
    # "Vans, Diesel, Average (up to 3.5 tonnes)": a third-party transcription of the 2024 v1.1 set
    # ("Vans > Average (up to 3.5 tonnes) > Diesel", 0.25023 kg CO2e/km) agrees at three decimals.
    # Not checked against the workbook itself.
    "van": 0.250,
    # "HGV (all diesel), All HGVs, Average laden": a published series of DESNZ's diesel HGV factor per km
    # gives 0.89061 for 2024 (without naming the row it took), and another transcription of the 2024 set
    # gives 0.89 for an average diesel HGV; both agree at the precision given. Not checked against the
    # workbook itself.
    "truck": 0.891,
}

# desnz-2025: the UK Government GHG Conversion Factors for Company Reporting 2025 (DESNZ), sheet "Freighting
# goods", unit "km", "kg CO2e", to three decimals, as a third-party copy of DESNZ's flat file gives them
# (rows named by the file's own IDs below; not checked against the workbook itself). "Freighting goods"
# rather than "Delivery vehicles" because its battery-electric row carries the electricity (generation and
# transmission), which the other sheet leaves to "UK electricity for EVs": for a delivery bought as a
# service that is the whole per-km figure. The diesel rows are the same in both sheets.
DESNZ_2025: Final[dict[str, float]] = {
    # As in desnz-2024: no DESNZ figure; zero tailpipe emissions and negligible assist electricity, an
    # assumption of ours.
    "cargo_bike": 0.0,
    # 27_303_3108_4_1 "Vans > Average (up to 3.5 tonnes) > Battery Electric Vehicle": 0.06976. It agrees with
    # the same file's grid factor (Electricity: UK, 0.177 kg CO2e/kWh) and its transmission-and-distribution
    # factor (0.01853/kWh) at 0.357 kWh/km: (0.177 + 0.01853) × 0.357 = 0.0698.
    "electric_van": 0.070,
    # 27_303_3102_4_1 "Vans > Average (up to 3.5 tonnes) > Diesel": 0.25561.
    "van": 0.256,
    # 27_304_3140_4_1 "HGV (all diesel) > All HGVs > Average laden": 0.89121.
    "truck": 0.891,
}

TABLES: Final[dict[str, dict[str, float]]] = {"desnz-2024": DESNZ_2024, "desnz-2025": DESNZ_2025}
FIRST_VERSION: Final = "desnz-2024"  # in force before dispatches recorded a version
FACTORS_VERSION: Final = "desnz-2025"  # the table new dispatches record


def factor(version: str, vehicle: str) -> float:
    """kg CO₂e per km for the vehicle in the named table; KeyError for an unknown version or vehicle."""
    return TABLES[version][vehicle]


def transport_grams(version: str, vehicle: str, distance_km: float) -> int:
    """Whole grams, so that sums are exact and the view and a recomputation agree to the gram."""
    return round(distance_km * factor(version, vehicle) * 1000)
