#!/usr/bin/env python3
"""Evaluate one JavaScript expression in Chromium's page over the DevTools
protocol and wait for its promise.

Usage: cdp.py PORT URL READY EXPRESSION TIMEOUT_S [SCRIPT]
Navigates the first tab to URL unless the expression READY is already true
there; then runs SCRIPT (a file of helpers, if given) and EXPRESSION. Prints
the result; exit 0 if it starts with "OK"."""
import json, sys, time, urllib.request
import websocket

port, URL, ready, expression, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
script = open(sys.argv[6]).read() if len(sys.argv) > 6 else None
deadline = time.time() + timeout
while True:
    try:
        tabs = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json" % port, timeout=5))
        pages = [t for t in tabs if t.get("type") == "page"]
        if pages:
            break
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit("no DevTools page")
    time.sleep(1)
ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=max(1, deadline - time.time()))
next_id = 0

def call(method, **params):
    global next_id
    next_id += 1
    ws.send(json.dumps({"id": next_id, "method": method, "params": params}))
    while True:
        ws.settimeout(max(1, deadline - time.time()))
        message = json.loads(ws.recv())
        if message.get("id") == next_id:
            return message

def page_ready():
    reply = call("Runtime.evaluate", expression="!!(%s)" % ready, returnByValue=True)
    return reply.get("result", {}).get("result", {}).get("value") is True

# Navigate ourselves, and again if the page has not loaded in 30 s: under
# software emulation Chromium's network service can crash and restart at
# start-up, losing the first navigation.
attempt = 0
while not page_ready():
    if time.time() > deadline:
        sys.exit("page never loaded")
    attempt += 1
    print("navigating to %s (attempt %d)" % (URL, attempt), flush=True)
    call("Page.navigate", url=URL)
    until = time.time() + 30
    while time.time() < until and not page_ready():
        time.sleep(1)
if script is not None:
    reply = call("Runtime.evaluate", expression=script)
    if "exceptionDetails" in reply.get("result", {}) or "error" in reply:
        sys.exit("helper script failed: " + json.dumps(reply)[:800])
reply = call("Runtime.evaluate", expression=expression, awaitPromise=True, userGesture=True, returnByValue=True)
value = reply.get("result", {}).get("result", {}).get("value")
print(value if value is not None else json.dumps(reply)[:800], flush=True)
sys.exit(0 if isinstance(value, str) and value.startswith("OK") else 1)
