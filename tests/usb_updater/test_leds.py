"""The activity LED, driven through a folder laid out like /sys/class/leds.

A real LED cannot exist here (no Pi board, and sysfs is read-only in a container), so each
test builds the sysfs files by hand. Unlike sysfs, a plain file keeps what was last written
and does not bracket the active trigger, which is what the assertions read back.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from usb_updater.leds import ActivityLed, find_led

TRIGGERS = "none rc-feedback kbd-scrolllock timer oneshot heartbeat backlight gpio cpu default-on [mmc0] mmc1"


def make_led(root: Path, name: str, triggers: str = TRIGGERS, brightness: str = "0") -> Path:
    led = root / name
    led.mkdir(parents=True)
    for file, value in {"trigger": triggers, "brightness": brightness, "max_brightness": "255",
                        "delay_on": "500", "delay_off": "500"}.items():
        (led / file).write_text(value + "\n")
    return led


def read_trigger(led: Path) -> str:
    return (led / "trigger").read_text().strip()


def read(led: Path) -> dict[str, str]:
    return {f: (led / f).read_text().strip() for f in ("trigger", "brightness", "delay_on", "delay_off")}


@pytest.mark.parametrize("names, found", [
    (["PWR", "ACT", "led0"], "ACT"),
    (["PWR", "led1", "led0"], "led0"),
    (["input3::capslock", "beaglebone:green:usr0"], "beaglebone:green:usr0"),
    (["input3::capslock", "mmc0::"], "mmc0::"),
    (["PWR", "input3::numlock"], None),
])
def test_find_led_prefers_the_pi_activity_led(tmp_path, names, found):
    for name in names:
        make_led(tmp_path, name)
    assert find_led(tmp_path) == found


def test_states_and_restore(tmp_path):
    led = make_led(tmp_path, "ACT")
    make_led(tmp_path, "PWR")
    act = ActivityLed(tmp_path)
    assert act.present and act.name == "ACT" and act.original_trigger == "mmc0"

    act.busy()
    assert read(led) == {"trigger": "timer", "brightness": "0", "delay_on": "100", "delay_off": "100"}
    act.failed()
    assert read(led) == {"trigger": "timer", "brightness": "0", "delay_on": "1000", "delay_off": "1000"}
    act.done()
    assert read(led)["trigger"] == "default-on"
    act.restore()
    assert read(led)["trigger"] == "mmc0"
    assert read(tmp_path / "PWR")["trigger"] == TRIGGERS  # the red power LED is never touched


def test_done_without_default_on_sets_full_brightness(tmp_path):
    led = make_led(tmp_path, "led0", triggers="[none] timer heartbeat", brightness="0")
    act = ActivityLed(tmp_path)
    act.done()
    assert read(led)["trigger"] == "none" and read(led)["brightness"] == "255"
    act.restore()
    assert read(led)["trigger"] == "none" and read(led)["brightness"] == "0"


@pytest.mark.parametrize("root", ["missing", "empty"])
def test_no_led_makes_every_method_a_no_op(tmp_path, root):
    (tmp_path / "empty").mkdir()
    act = ActivityLed(tmp_path / root)
    assert not act.present
    for state in (act.busy, act.done, act.failed, act.restore):
        state()
    assert os.listdir(tmp_path) == ["empty"]


def test_a_named_led_that_is_absent_is_a_no_op(tmp_path):
    make_led(tmp_path, "ACT")
    act = ActivityLed(tmp_path, name="led7")
    assert not act.present
    act.busy()
    assert read(tmp_path / "ACT")["trigger"] == TRIGGERS


def test_write_errors_are_logged_once_and_ignored(tmp_path, caplog):
    # The tests run as root, which writes through any file mode, so folders stand where the
    # timer's files should be and writing them fails as a service user's would.
    led = make_led(tmp_path, "ACT")
    for file in ("delay_on", "delay_off"):
        (led / file).unlink()
        (led / file).mkdir()
    act = ActivityLed(tmp_path)
    with caplog.at_level(logging.WARNING):
        act.busy()
        act.failed()
        act.done()
    assert read_trigger(led) == "default-on"  # what could be written still was
    assert len(caplog.records) == 1 and "cannot drive the LED" in caplog.text
