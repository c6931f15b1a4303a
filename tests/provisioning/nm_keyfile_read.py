"""Read a connection keyfile with NetworkManager's own library and print what it holds as JSON.

Run by Debian's /usr/bin/python3 (python3-gi, gir1.2-nm-1.0), not the project's Python:
libnm's reader is the code NetworkManager itself loads /etc/NetworkManager/system-connections
with. Any warning it raises about the file is a failure.
"""

import json
import sys

import gi

gi.require_version("NM", "1.0")
from gi.repository import GLib, NM  # noqa: E402

warnings = []


def handler(keyfile, connection, handler_type, handler_data, user_data):
    if handler_type == NM.KeyfileHandlerType.WARN:
        warnings.append(handler_data.warn_get()[0])
    return False


path = sys.argv[1]
keyfile = GLib.KeyFile()
keyfile.load_from_file(path, GLib.KeyFileFlags.NONE)
connection = NM.keyfile_read(keyfile, "/etc/NetworkManager/system-connections",
                             NM.KeyfileHandlerFlags.NONE, handler, None)
connection.verify()  # raises when the connection could not work
if warnings:
    sys.exit(f"NetworkManager warns about {path}: {warnings}")
wifi, security = connection.get_setting_wireless(), connection.get_setting_wireless_security()
ip4, ip6 = connection.get_setting_ip4_config(), connection.get_setting_ip6_config()
address = ip4.get_address(0)
print(json.dumps({
    "id": connection.get_id(),
    "uuid": connection.get_uuid(),
    "type": connection.get_connection_type(),
    "interface": connection.get_interface_name(),
    "autoconnect": connection.get_setting_connection().get_autoconnect(),
    "ssid": list(wifi.get_ssid().get_data()),
    "mode": wifi.get_mode(),
    "band": wifi.get_band(),
    "channel": wifi.get_channel(),
    "security": None if security is None else {
        "key_mgmt": security.get_key_mgmt(),
        "psk": security.get_psk(),
        "proto": [security.get_proto(i) for i in range(security.get_num_protos())],
        "pairwise": [security.get_pairwise(i) for i in range(security.get_num_pairwise())],
        "group": [security.get_group(i) for i in range(security.get_num_groups())],
    },
    "ipv4": [ip4.get_method(), f"{address.get_address()}/{address.get_prefix()}"],
    "ipv6": ip6.get_method(),
}))
