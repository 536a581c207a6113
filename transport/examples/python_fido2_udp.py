"""python-fido2 (an independent CTAPHID client) against softkey-transport over UDP.

Run the echo device, then this script (python-fido2 2.x installed):

    cargo run -p softkey-transport --example udp_echo_device 127.0.0.1:18111 &
    python3 transport/examples/python_fido2_udp.py 18111

Checks INIT, PING up to 7609 bytes, CBOR, MSG, WINK, LOCK, keepalives,
CANCEL and an ERROR reply as python-fido2 sees them.
"""
import socket, threading, sys
from fido2.hid import CtapHidDevice, CTAPHID, CAPABILITY
from fido2.hid.base import CtapHidConnection, HidDescriptor
from fido2.ctap import CtapError

DEVICE = ("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8111)

class UdpConnection(CtapHidConnection):
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
    def read_packet(self):
        data, _ = self.sock.recvfrom(64)
        return data
    def write_packet(self, data):
        self.sock.sendto(bytes(data), DEVICE)
    def close(self):
        self.sock.close()

desc = HidDescriptor("udp", 0x1234, 0x5678, 64, 64, "softkey", "0")
dev = CtapHidDevice(desc, UdpConnection())
print("version", dev.device_version, "caps", dev.capabilities)
assert dev.capabilities & CAPABILITY.CBOR and dev.capabilities & CAPABILITY.WINK
assert dev.ping(b"hello") == b"hello"
big = bytes(i % 256 for i in range(7609))
assert dev.ping(big) == big
assert dev.call(CTAPHID.CBOR, b"\x04") == b"\x00\x04"
assert dev.call(CTAPHID.MSG, b"\x00\x03\x00\x00") == b"\x00\x00\x03\x00\x00"
dev.wink()
dev.lock(2); dev.lock(0)
seen = []
r = dev.call(CTAPHID.CBOR, b"\xff\x01", on_keepalive=seen.append)
assert r == b"\x00\xff\x01", r
print("keepalives", len(seen), set(seen))
assert seen == [2], seen  # python-fido2 reports status changes only
ev = threading.Event()
def on_ka(status):
    ev.set()   # cancel at the first keepalive
r = dev.call(CTAPHID.CBOR, b"\xff\x02", event=ev, on_keepalive=on_ka)
print("cancel ->", r)
assert r == b"\x2d", r  # CTAP2_ERR_KEEPALIVE_CANCEL as the CBOR answer
try:
    dev.call(0x55, b"")
    raise SystemExit("expected error")
except CtapError as e:
    print("unknown cmd ->", e.code)
    assert e.code == 1
assert dev.ping(b"still ok") == b"still ok"
print("python-fido2 interop OK")
