#!/usr/bin/env python3
"""Evaluate one JavaScript expression in Firefox's page over WebDriver BiDi
(Firefox has no DevTools protocol) and wait for its promise: the Firefox twin
of cdp.py.

Usage: bidi.py PORT URL READY EXPRESSION TIMEOUT_S [SCRIPT]
Opens a BiDi session, navigates the first tab to URL unless the expression
READY is already true there, runs SCRIPT (helpers, if given) and EXPRESSION.
$E2E_USER, if set, becomes window.E2E_USER first. Prints the result; exit 0
if it starts with "OK"."""
import json, os, sys, time
import websocket

port, URL, ready, expression, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
script = open(sys.argv[6]).read() if len(sys.argv) > 6 else None
deadline = time.time() + timeout
ws = None
while ws is None:
    # Firefox's remote agent listens on "localhost", which may be ::1 only;
    # it refuses WebSocket upgrades that carry an Origin header.
    for host in ("localhost", "127.0.0.1", "[::1]"):
        try:
            ws = websocket.create_connection("ws://%s:%d/session" % (host, port), timeout=10,
                                             suppress_origin=True)
            break
        except Exception as error:
            last_error = error
    if ws is None:
        if time.time() > deadline:
            sys.exit("no WebDriver BiDi endpoint: %s" % last_error)
        time.sleep(1)
next_id = 0

def call(method, **params):
    global next_id
    next_id += 1
    ws.send(json.dumps({"id": next_id, "method": method, "params": params}))
    while True:
        ws.settimeout(max(1, deadline - time.time()))
        message = json.loads(ws.recv())
        if message.get("id") == next_id:
            if message.get("type") == "error":
                raise RuntimeError("%s: %s" % (method, json.dumps(message)[:600]))
            return message.get("result", {})

call("session.new", capabilities={})
context = call("browsingContext.getTree")["contexts"][0]["context"]
target = {"context": context}

def finish(code, message):
    # One BiDi session at a time: end ours so the next step can start one.
    print(message, flush=True)
    try:
        call("session.end")
    except Exception:
        pass
    sys.exit(code)

def evaluate(text, await_promise=False):
    result = call("script.evaluate", expression=text, target=target, awaitPromise=await_promise,
                  userActivation=True)
    if result.get("type") == "exception":
        return None, json.dumps(result.get("exceptionDetails", {}))[:600]
    return result.get("result", {}).get("value"), None

def page_ready():
    try:
        value, _ = evaluate("!!(%s)" % ready)
        return value is True
    except RuntimeError:
        return False

attempt = 0
while not page_ready():
    if time.time() > deadline:
        finish(1, "page never loaded")
    attempt += 1
    print("navigating to %s (attempt %d)" % (URL, attempt), flush=True)
    try:
        call("browsingContext.navigate", context=context, url=URL, wait="complete")
    except RuntimeError as error:
        print(error, flush=True)
    until = time.time() + 30
    while time.time() < until and not page_ready():
        time.sleep(1)
# WebAuthn needs the document to have focus.
try:
    call("browsingContext.activate", context=context)
except RuntimeError as error:
    print(error, flush=True)
if os.environ.get("E2E_USER"):
    evaluate("window.E2E_USER = %s" % json.dumps(os.environ["E2E_USER"]))
if script is not None:
    _, error = evaluate(script)
    if error:
        finish(1, "helper script failed: " + error)
value, error = evaluate(expression, await_promise=True)
finish(0 if isinstance(value, str) and value.startswith("OK") else 1,
       value if value is not None else error)
