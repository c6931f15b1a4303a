"""The activity LED: tells a field officer what the box is doing, without a screen.

    busy    fast even blinking, five times a second (timer 100 ms on / 100 ms off)
    done    steady on ("default-on", else trigger none at full brightness)
    failed  slow blinking, once every two seconds (timer 1 s on / 1 s off)
    restore the LED's own trigger again (on a Pi, mmc0: an irregular flicker on disk access)

Slow blinking cannot be mistaken for the fast one nor for the irregular disk flicker, and
it stays that way until the next stick, so an officer coming back later still sees it.
On a board without such an LED every method does nothing.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

LEDS = Path("/sys/class/leds")
# The Pi's green activity LED: ACT on current kernels, led0 on older ones.
PREFERRED = ("ACT", "led0")


def find_led(root: Path = LEDS) -> str | None:
    """The name of the activity LED under root, or None when the board has none."""
    if not root.is_dir():
        return None
    names = sorted(p.name for p in root.iterdir())
    for name in PREFERRED:
        if name in names:
            return name
    for name in names:
        if ":green:" in name or name.startswith("mmc0"):
            return name
    return None


class ActivityLed:
    """One LED in /sys/class/leds driven through its trigger files."""

    def __init__(self, root: Path = LEDS, name: str | None = None) -> None:
        self.name = name if name is not None else find_led(root)
        self.path = root / self.name if self.name else None
        if self.path is not None and not (self.path / "trigger").is_file():
            log.info("no LED at %s; the box will not blink", self.path)
            self.name = self.path = None
        self._warned = False
        self._triggers = self._read("trigger").split()
        # The kernel lists every trigger and brackets the active one.
        active = [t[1:-1] for t in self._triggers if t.startswith("[") and t.endswith("]")]
        self.original_trigger = active[0] if active else (self._triggers[0] if self._triggers else "")
        self.original_brightness = self._read("brightness")

    @property
    def present(self) -> bool:
        return self.path is not None

    def busy(self) -> None:
        """Fast even blinking: an insert is being handled."""
        self._blink(100, 100)

    def done(self) -> None:
        """Steady on: the stick is finished and safe to pull."""
        if "default-on" in self._available():
            self._write("trigger", "default-on")
        else:
            self._write("trigger", "none")
            self._write("brightness", self._read("max_brightness") or "1")

    def failed(self) -> None:
        """Slow blinking: something went wrong; the status page and receipt say what."""
        self._blink(1000, 1000)

    def restore(self) -> None:
        """Put back the trigger (and for "none" the brightness) found at start."""
        if not self.original_trigger:
            return
        self._write("trigger", self.original_trigger)
        if self.original_trigger == "none" and self.original_brightness:
            self._write("brightness", self.original_brightness)

    def _available(self) -> set[str]:
        return {re.sub(r"^\[(.*)\]$", r"\1", t) for t in self._triggers}

    def _blink(self, on_ms: int, off_ms: int) -> None:
        # Choosing "timer" makes the kernel create delay_on/delay_off, so they come after it.
        self._write("trigger", "timer")
        self._write("delay_on", str(on_ms))
        self._write("delay_off", str(off_ms))

    def _read(self, name: str) -> str:
        if self.path is None:
            return ""
        try:
            return (self.path / name).read_text().strip()
        except OSError as e:
            self._warn(e)
            return ""

    def _write(self, name: str, value: str) -> None:
        if self.path is None:
            return
        try:
            (self.path / name).write_text(value + "\n")
        except OSError as e:
            self._warn(e)

    def _warn(self, error: OSError) -> None:
        # An LED is a courtesy: a box without the right to drive it still imports; say so once.
        if not self._warned:
            self._warned = True
            log.warning("cannot drive the LED %s: %s", self.path, error)
