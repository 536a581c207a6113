"""pytest plugin that points python-fido2's own device suite (`tests/device` in
its source distribution) at `softkey sim` over UDP, without editing the suite.

- fido2.hid's device discovery is redirected to one softkey UDP device
  (`SOFTKEY_UDP_PORT`, default 8111).
- The suite's "Pico controller" (an HTTP API for USB power and touch used in
  python-fido2's own lab) is served here: power off hides the device, power on
  sends the power-cycle datagram and shows it again under a new path, as a
  replugged key would appear. Touch needs nothing: the simulator approves
  presence itself (its danger-auto-approve default), as the suite expects.

Load it with `-p softkey_device_plugin` (this directory on PYTHONPATH).
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fido2.hid

import softkey_udp

HOST = "127.0.0.1"
PORT = int(os.environ.get("SOFTKEY_UDP_PORT", "8111"))


class _Device:
    plugged = True
    generation = 0


def _list_descriptors():
    if not _Device.plugged:
        return []
    return [softkey_udp.descriptor_for(HOST, PORT, _Device.generation)]


def _get_descriptor(path):
    host, port = softkey_udp.parse_path(path)
    if not _Device.plugged or (host, port) != (HOST, PORT):
        raise OSError(f"no such device: {path!r}")
    return softkey_udp.descriptor_for(HOST, PORT, _Device.generation)


def _open_connection(descriptor):
    return softkey_udp.UdpCtapHidConnection(descriptor)


fido2.hid.list_descriptors = _list_descriptors
fido2.hid.get_descriptor = _get_descriptor
fido2.hid.open_connection = _open_connection


class _PicoHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        parts = [p for p in self.path.split("/") if p]
        if len(parts) == 3 and parts[1] == "power":
            if parts[2] == "off":
                _Device.plugged = False
            elif parts[2] == "on":
                softkey_udp.power_cycle(HOST, PORT)
                _Device.generation += 1
                _Device.plugged = True
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def pytest_configure(config):
    if getattr(config.option, "controller", None):
        return
    server = ThreadingHTTPServer((HOST, 0), _PicoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config.option.controller = f"http://{HOST}:{server.server_address[1]}"
