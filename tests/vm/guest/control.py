"""A minimal client of `softkey sim --control` for the VM test.

usage: control.py TOKEN_FILE add JSON        prints the answer (JSON)
       control.py TOKEN_FILE credentials ID  prints how many credentials ID lists
       control.py TOKEN_FILE delete ID
The API listens on 127.0.0.1:8120.
"""

import json
import sys
import time
import urllib.request

BASE = "http://127.0.0.1:8120/session/vm/webauthn/authenticator"


def call(token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main():
    token_file, command, argument = sys.argv[1:4]
    token = ""
    for _ in range(100):  # the simulator writes the token when it is up
        try:
            token = open(token_file).read().strip()
            if token:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.2)
    if not token:
        sys.exit(f"no control token in {token_file}: the simulator did not start")
    if command == "add":
        print(json.dumps(call(token, "POST", "", json.loads(argument))))
    elif command == "credentials":
        print(len(call(token, "GET", f"/{argument}/credentials")["value"]))
    elif command == "delete":
        call(token, "DELETE", f"/{argument}")
    else:
        sys.exit(f"unknown command {command}")


main()
