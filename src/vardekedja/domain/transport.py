"""Transport emission factors, kg CO₂e per vehicle-km, in versioned tables.

A dispatch records the version of the table in force when it was made, so a
later table never changes an earlier figure; recomputing from an export uses
the version each event names. Add a new version rather than editing one.
"""

from __future__ import annotations

from typing import Final

# desnz-2024: UK Government GHG Conversion Factors for Company Reporting 2024 (Department for Energy
# Security and Net Zero, published June 2024, "full set"), sheet "Delivery vehicles", unit "km",
# column "kg CO2e" (total of CO2, CH4 and N2O), as transcribed to three decimals. The UK grid's
# carbon intensity is in the electric van's figure; the Swedish grid's is lower, so it overstates
# a Swedish electric van, which errs on the side of not flattering the local choice.
DESNZ_2024: Final[dict[str, float]] = {
    # No tailpipe emissions; DESNZ lists no cargo bike, and the assist motor's electricity is
    # negligible at this precision.
    "cargo_bike": 0.0,
    # "Vans, Battery electric vehicle, Average (up to 3.5 tonnes)".
    "electric_van": 0.056,
    # "Vans, Diesel, Average (up to 3.5 tonnes)".
    "van": 0.250,
    # "HGV (all diesel), All HGVs, Average laden".
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
