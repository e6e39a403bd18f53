"""Generate the demo's sample ERP catalogue (deterministic; the output is committed).

    .venv/bin/python scripts/make_demo_catalogue.py

writes ``src/norce_integration/cli/data/catalogue.csv``: one row per SKU with its product
data, its price in the primary price list (SEK) and its stock in warehouse ``MAIN``, and
the time the ERP last changed the row. Run it again after changing this script; the same
script always writes the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path


ROWS = 3000
SEED = 20250101
OUT = Path(__file__).resolve().parents[1] / "src/norce_integration/cli/data/catalogue.csv"
COLUMNS = ("part_no", "name", "brand", "category", "ean", "price", "stock", "updated_at")

BRANDS = ("Nordkap", "Fjällräv", "Havsbris", "Skogsmus", "Ljung & Co", "Polarstjärna")
# The emulator's seed categories (a real tenant has its own; the adapter looks them up).
PRICE_RANGE = {"clothing": (299, 2499), "shoes": (499, 2499), "accessories": (99, 599)}  # SEK
CATEGORIES = {
    "clothing": ("Jacket", "Hoodie", "T-shirt", "Sweater", "Rain Coat", "Vest", "Fleece"),
    "shoes": ("Trail Runner", "Hiking Boot", "Sneaker", "Sandal", "Winter Boot"),
    "accessories": ("Beanie", "Scarf", "Backpack", "Cap", "Gloves", "Water Bottle"),
}
ADJECTIVES = (
    "Arctic", "Coastal", "Midnight", "Forest", "Granite", "Aurora", "Meadow",
    "Harbour", "Summit", "Birch", "Tundra", "Fjord",
)  # fmt: skip
COLOURS = ("Black", "Navy", "Olive", "Sand", "Red", "Grey", "White", "Moss")
START = dt.datetime(2024, 11, 1, tzinfo=dt.UTC)
# The demo's emulator clock starts at 2025-01-01T08:00Z: every row is older than that.
SPAN_SECONDS = int((dt.datetime(2024, 12, 31, 23, 0, tzinfo=dt.UTC) - START).total_seconds())


def ean13(body: str) -> str:
    """Append the EAN-13 check digit to 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def rows() -> list[dict[str, str]]:
    rng = random.Random(SEED)  # noqa: S311 - sample data, not secrets
    out: list[dict[str, str]] = []
    for number in range(1, ROWS + 1):
        category = rng.choice(sorted(CATEGORIES))
        noun = rng.choice(CATEGORIES[category])
        name = f"{rng.choice(ADJECTIVES)} {noun}, {rng.choice(COLOURS)}"
        low, high = PRICE_RANGE[category]
        price = Decimal(rng.randrange(low, high + 1, 10)) - Decimal("0.05")  # ends in ,95
        updated = START + dt.timedelta(seconds=rng.randrange(SPAN_SECONDS))
        out.append(
            {
                "part_no": f"SKU-{number:05d}",
                "name": name,
                "brand": rng.choice(BRANDS),
                "category": category,
                "ean": ean13(f"735{number:09d}"),
                "price": str(price),
                "stock": str(rng.choice((0, 0, 3, 5, 8, 12, 20, 35, 60, 120))),
                "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return out


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows())
    print(f"wrote {ROWS} rows, {OUT.stat().st_size} bytes: {OUT}")


if __name__ == "__main__":
    main()
