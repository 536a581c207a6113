"""A test double of fprintd (net.reactivated.Fprint), as a python-dbusmock template.

It serves fprintd's published D-Bus interface (the Manager and one Device
with the calls and the VerifyStatus signal softkey uses), enforces the
device protocol (Claim before VerifyStart, VerifyStop before the next
VerifyStart, Release only when claimed), and plays scripted verification
results. Run it on a private bus:

    DBUS_SYSTEM_BUS_ADDRESS=unix:path=/tmp/x/bus \
        /usr/bin/python3 -m dbusmock --system -t fprintd_double.py -l calls.log \
        -p '{"results": [["verify-retry-scan", "verify-match"]], "then": "verify-no-match"}'

Parameters (JSON):
  devices   0 for no reader (GetDefaultDevice fails with NoSuchDevice); default 1
  enrolled  the fingers enrolled for the user; default ["right-index-finger"]
  busy      true: another program holds the reader (Claim fails with AlreadyInUse)
  results   one list of VerifyStatus results per VerifyStart, in order; the
            last result of each list has done=true
  then      the result once `results` is used up; "hang" never answers
  delay_ms  between VerifyStart and each status; default 30

Every call is in the dbusmock log (-l), one line each ("Claim", "VerifyStart",
"VerifyStop", "Release", ...), for the tests to check the order.
"""

import dbus
import dbusmock
from gi.repository import GLib

SYSTEM_BUS = True
BUS_NAME = "net.reactivated.Fprint"
MAIN_OBJ = "/net/reactivated/Fprint/Manager"
MAIN_IFACE = "net.reactivated.Fprint.Manager"
DEVICE_IFACE = "net.reactivated.Fprint.Device"
DEVICE_PATH = "/net/reactivated/Fprint/Device/0"
ERROR = "net.reactivated.Fprint.Error."


def fail(name, message):
    raise dbus.exceptions.DBusException(message, name=ERROR + name)


def load(mock, parameters):
    devices = int(parameters.get("devices", 1))
    state = {
        "enrolled": list(parameters.get("enrolled", ["right-index-finger"])),
        "busy": bool(parameters.get("busy", False)),
        "results": [list(r) for r in parameters.get("results", [])],
        "then": parameters.get("then", "verify-no-match"),
        "delay": int(parameters.get("delay_ms", 30)),
        "claimed": False,
        "verifying": False,
        "generation": 0,
    }

    def get_default_device(self):
        if devices == 0:
            fail("NoSuchDevice", "No devices available")
        return dbus.ObjectPath(DEVICE_PATH)

    def get_devices(self):
        return dbus.Array([dbus.ObjectPath(DEVICE_PATH)] * min(devices, 1), signature="o")

    mock.AddMethod(MAIN_IFACE, "GetDefaultDevice", "", "o", get_default_device)
    mock.AddMethod(MAIN_IFACE, "GetDevices", "", "ao", get_devices)
    if devices == 0:
        return

    mock.AddObject(
        DEVICE_PATH,
        DEVICE_IFACE,
        {
            "name": dbus.String("softkey test reader"),
            "num-enroll-stages": dbus.Int32(5),
            "scan-type": dbus.String("press"),
            "finger-present": dbus.Boolean(False),
            "finger-needed": dbus.Boolean(False),
        },
        [],
    )
    device = dbusmock.get_object(DEVICE_PATH)

    def claim(self, username):
        if state["busy"] or state["claimed"]:
            fail("AlreadyInUse", "Device was already claimed")
        state["claimed"] = True

    def release(self):
        if not state["claimed"]:
            fail("ClaimDevice", "Device was not claimed before use")
        state["claimed"] = False
        state["verifying"] = False
        state["generation"] += 1

    def list_enrolled_fingers(self, username):
        if not state["enrolled"]:
            fail("NoEnrolledPrints", "Failed to discover prints")
        return dbus.Array(state["enrolled"], signature="s")

    def verify_start(self, finger):
        if not state["claimed"]:
            fail("ClaimDevice", "Device was not claimed before use")
        if state["verifying"]:
            fail("AlreadyInUse", "Verification already in progress")
        if not state["enrolled"]:
            fail("NoEnrolledPrints", "No fingerprints enrolled")
        state["verifying"] = True
        state["generation"] += 1
        generation = state["generation"]
        script = state["results"].pop(0) if state["results"] else [state["then"]]
        if script == ["hang"]:
            return
        self.EmitSignal(DEVICE_IFACE, "VerifyFingerSelected", "s", [state["enrolled"][0]])

        def emit(index):
            # A status for a verification that was stopped is never sent.
            if state["generation"] != generation or not state["verifying"]:
                return False
            done = index == len(script) - 1
            self.EmitSignal(DEVICE_IFACE, "VerifyStatus", "sb", [script[index], done])
            if not done:
                GLib.timeout_add(state["delay"], emit, index + 1)
            return False

        GLib.timeout_add(state["delay"], emit, 0)

    def verify_stop(self):
        if not state["claimed"]:
            fail("ClaimDevice", "Device was not claimed before use")
        if not state["verifying"]:
            fail("NoActionInProgress", "No verification in progress")
        state["verifying"] = False
        state["generation"] += 1

    device.AddMethod(DEVICE_IFACE, "Claim", "s", "", claim)
    device.AddMethod(DEVICE_IFACE, "Release", "", "", release)
    device.AddMethod(DEVICE_IFACE, "ListEnrolledFingers", "s", "as", list_enrolled_fingers)
    device.AddMethod(DEVICE_IFACE, "VerifyStart", "s", "", verify_start)
    device.AddMethod(DEVICE_IFACE, "VerifyStop", "", "", verify_stop)
