"""CTAPHID over loopback UDP for python-fido2: the transport softkey's tests use.

Each datagram is one raw 64-byte HID report (no report-ID byte); the device
listens on 127.0.0.1:8111 by default and answers to the sender. The power-cycle
magic datagram makes the device forget its volatile state.

`UdpCtapHidConnection` plugs into python-fido2 through its documented extension
point, `fido2.hid.base.CtapHidConnection`.
"""

from __future__ import annotations

import socket

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

REPORT_LEN = 64
POWER_CYCLE_MAGIC = bytes.fromhex(
    "ac1052ca95e569de69e02ebff333485f13f9b2da34c5a8a340526697a9ab2e0b"
    "394d8d04973c134005be1a0140bff6045bb26eb77a73eaa47813f6b49a7250dc"
)
PATH_PREFIX = "udp:"


def descriptor_for(host: str, port: int, generation: int = 0) -> HidDescriptor:
    path = f"{PATH_PREFIX}{host}:{port}"
    if generation:
        path += f"#{generation}"
    return HidDescriptor(path, 0x1209, 0x5F0B, REPORT_LEN, REPORT_LEN, "softkey (UDP)", None)


def parse_path(path: str) -> tuple[str, int]:
    if isinstance(path, bytes):
        path = path.decode()
    if not path.startswith(PATH_PREFIX):
        raise ValueError(f"not a softkey UDP path: {path!r}")
    address = path[len(PATH_PREFIX):].split("#", 1)[0]
    host, port = address.rsplit(":", 1)
    return host, int(port)


class UdpCtapHidConnection(CtapHidConnection):
    """One CTAPHID connection to a device on loopback UDP."""

    def __init__(self, descriptor: HidDescriptor, timeout: float = 40.0):
        self.descriptor = descriptor
        self.address = parse_path(descriptor.path)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)

    def write_packet(self, data: bytes) -> None:
        if len(data) != REPORT_LEN:
            data = data.ljust(REPORT_LEN, b"\0")[:REPORT_LEN]
        self.sock.sendto(data, self.address)

    def read_packet(self) -> bytes:
        while True:
            data, sender = self.sock.recvfrom(4096)
            if sender[1] == self.address[1]:
                return data

    def close(self) -> None:
        self.sock.close()


def power_cycle(host: str = "127.0.0.1", port: int = 8111) -> None:
    """Sends the power-cycle datagram (the device does not answer it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(POWER_CYCLE_MAGIC, (host, port))


def open_device(
    host: str = "127.0.0.1", port: int = 8111, timeout: float = 40.0
) -> CtapHidDevice:
    descriptor = descriptor_for(host, port)
    return CtapHidDevice(descriptor, UdpCtapHidConnection(descriptor, timeout))
