"""Copy the console's screenshots from the last test run into docs/, small enough to commit.

`make test` (tests/console/test_console_browser.py) writes full-size PNGs to reports/console/;
this scales them to 75% and reduces them to 64 colours in docs/console/, which the README and
docs/console.md show. Run: `.venv/bin/python -m tools.dev.screenshots`.
"""

from __future__ import annotations

from PIL import Image

from tools.dev.azurite import ROOT

SOURCE = ROOT / "reports" / "console"
TARGET = ROOT / "docs" / "console"


def main() -> int:
    shots = sorted(SOURCE.glob("*.png"))
    if not shots:
        print(f"no screenshots in {SOURCE}: run the console's browser tests first")
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        image = Image.open(shot).convert("RGB")
        image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
        small = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(TARGET / shot.name, optimize=True)
        print(f"{TARGET / shot.name}: {(TARGET / shot.name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
