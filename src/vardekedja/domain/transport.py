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
    # using about 0.27 kWh/km, but that does not confirm 0.056.
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

TABLES: Final[dict[str, dict[str, float]]] = {"desnz-2024": DESNZ_2024}
FIRST_VERSION: Final = "desnz-2024"  # in force before dispatches recorded a version
FACTORS_VERSION: Final = "desnz-2024"  # the table new dispatches record


def factor(version: str, vehicle: str) -> float:
    """kg CO₂e per km for the vehicle in the named table; KeyError for an unknown version or vehicle."""
    return TABLES[version][vehicle]


def transport_grams(version: str, vehicle: str, distance_km: float) -> int:
    """Whole grams, so that sums are exact and the view and a recomputation agree to the gram."""
    return round(distance_km * factor(version, vehicle) * 1000)
