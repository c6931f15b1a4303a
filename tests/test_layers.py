"""Every import points down: a module imports only modules of its own layer or the ones below.

The layers (README, "Layers"): 0 the ground floor, shared by all and importing nothing above
it; 1 the library on the box; 2 content for boxes; 3 what people meet (the web, the USB flow,
the hotspot) and the commands. A new module must be given its layer here, or this test fails.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "content_mirror", "usb_updater", "provisioning")

LAYERS = {
    0: ["server.errors", "server.languages", "server.settings", "server.fsutil", "server.sqlite_files",
        "content_mirror.manifest", "content_mirror.svgtext", "usb_updater.status"],
    1: ["server.search", "server.catalog", "server.store", "server.gamezip", "server.manifests",
        "server.library", "server.i18n", "server.names", "server.usage", "server.clock", "server.scrub", "server.importer",
        "server.health"],
    2: ["content_mirror.minisign", "content_mirror.authoring", "content_mirror.bundle", "content_mirror.demo",
        "content_mirror.video", "content_mirror.pdfbook", "content_mirror.players", "content_mirror.bloom",
        "content_mirror.h5p", "content_mirror.kolibri", "content_mirror.kolibri_db", "content_mirror.drafts",
        "content_mirror.scan", "content_mirror.sheets", "content_mirror.takehome", "content_mirror.pdfdoc"],
    3: ["server.state", "server.request_args", "server.answers", "server.assets", "server.files",
        "server.portal", "server.usb_texts", "server.api", "server.pages", "server.games", "server.players", "server.takehome", "server.app",
        "server.http_server", "server.mdns", "server.cli", "server.__main__", "server.__init__",
        "content_mirror.cli", "content_mirror.preview", "content_mirror.__main__", "content_mirror.__init__",
        "usb_updater.export", "usb_updater.xapi", "usb_updater.mounts", "usb_updater.leds", "usb_updater.process",
        "usb_updater.daemon", "usb_updater.cli", "usb_updater.__main__", "usb_updater.__init__",
        "provisioning.regulatory", "provisioning.wifi", "provisioning.files",
        "provisioning.dnsmasq", "provisioning.hostapd", "provisioning.networkmanager",
        "provisioning.hotspot", "provisioning.poster", "provisioning.cli", "provisioning.__main__",
        "provisioning.__init__",
        # sanduq-report, the programme officer's command: it imports nothing of the box (test_cli.py).
        "content_mirror.report.__init__", "content_mirror.report.sticks", "content_mirror.report.store",
        "content_mirror.report.intake",
        "content_mirror.report.texts", "content_mirror.report.figures", "content_mirror.report.charts",
        "content_mirror.report.page", "content_mirror.report.workbook", "content_mirror.report.outward",
        "content_mirror.report.cli",
        "server.translations.serbian_latin"],
}
LAYER = {module: n for n, modules in LAYERS.items() for module in modules}


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(REPO).with_suffix("").parts): p
            for package in PACKAGES for p in (REPO / package).rglob("*.py")}


def imports(path: Path) -> set[str]:
    """The project's modules PATH imports, at the top or inside functions alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from server import usage` names a module; `from server.x import name` names x.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PACKAGES}
    return found


def test_every_module_has_a_layer():
    assert sorted(set(modules()) - set(LAYER)) == [], "give each new module its layer in LAYERS"
    assert sorted(set(LAYER) - set(modules())) == [], "LAYERS names a module that is gone"


def test_every_import_points_down():
    known = modules()
    upward = []
    for module, path in sorted(known.items()):
        for name in sorted(imports(path)):
            if name in known and name != module and LAYER[name] > LAYER[module]:
                upward.append(f"{module} (layer {LAYER[module]}) imports {name} (layer {LAYER[name]})")
    assert upward == []


def test_the_ground_floor_imports_only_the_ground_floor_and_libraries():
    known = modules()
    for module in LAYERS[0]:
        assert {n for n in imports(known[module]) if n in known} <= set(LAYERS[0]), module
