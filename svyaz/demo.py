"""`svyaz demo`: what works today, shown on the running stack with one node per region.

Starts a node per region (as `svyaz node serve` subprocesses, federated with each other, logs under
the state dir), shows each node's readiness and a WebSocket round trip, has a Russian, a Belarusian
and a Kazakh user talk (a private chat across a border and a group of the three) and shows where
each conversation is stored, registers and signs in two accounts, shows a forbidden
call and verifies the audit log, runs a private chat, a channel and a group, then a secret chat
between two devices (what the node stores, what the other device opens, the safety number), walks
a lawful-access request through its four-eyes workflow to a signed export that plain openssl
verifies, and stops the nodes (or keeps them with --keep-running).

The lawful-access step needs an admin of the region to grant the roles. The demo makes its own on
the first run the way an operator makes a region's first admin (an account with 2FA, then
`svyaz node bootstrap-admin`), and keeps its password and TOTP secret in
`<state dir>/<region>/demo-admin.json` (0600; a development stack's throwaway account) to sign in
with on later runs. If the region already has another admin, the step says so and is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import trio
from pymongo import MongoClient
from trio_websocket import open_websocket_url

from svyaz.client.connection import RemoteError, open_node_client
from svyaz.client.messaging import Messenger
from svyaz.client.secret import SecretChats, policy_in
from svyaz.client.secret_vault import SecretVault
from svyaz.compliance.lawful.export_key import key_dir
from svyaz.compliance.lawful.shelf import EXPORTS_DIR
from svyaz.compliance.lawful.workflow_cli import document_hash
from svyaz.errors import SvyazError
from svyaz.federation.keyfile import PUBLIC_KEY_FILE, load_or_generate_federation_key
from svyaz.identity.totp import code_at, time_step
from svyaz.rbac.roles import ADMIN, AUTHORITY, SECURITY_OFFICER
from svyaz.regions import PORTS, default_state_dir
from svyaz.stack.manager import Stack
from svyaz.stack.topology import mongo_url, parse_regions

NODE_READY_TIMEOUT_S = 60.0
DEMO_ADMIN_FILE = "demo-admin.json"


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="show a newcomer what works, on the running stack")
    demo.add_argument("--regions", default="ru,by,kz", help="comma-separated regions (default: ru,by,kz)")
    demo.add_argument("--keep-running", action="store_true", help="leave the nodes running until Ctrl-C")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    regions = parse_regions(args.regions)
    state_dir = default_state_dir()
    _title("1. The local stack (svyaz stack status)")
    statuses = Stack(state_dir).status()
    for s in statuses:
        rss = f"{s.rss_kib / 1024:.0f} MiB" if s.rss_kib else "-"
        print(f"   {s.service:<13} pid {s.pid or '-':>7}  port {s.port or '-':>6}  "
              f"{'healthy' if s.healthy else 'NOT HEALTHY':<11} {rss:>8}")
    if not statuses or not all(s.healthy for s in statuses):
        raise SvyazError("the stack is not healthy", hint="run `svyaz stack up` (or `make demo`) first")

    with _nodes(regions, state_dir) as logs:
        _title("2. A node per region (svyaz node serve --region ...)")
        for region in regions:
            ready = _get_json(f"http://127.0.0.1:{PORTS[region].http}/readyz")
            print(f"   {region}: /readyz -> {json.dumps(ready)}")
            print(f"       gateway ws://127.0.0.1:{PORTS[region].gateway}/  log {logs[region]}")

        _title("3. The WebSocket gateway: hello and a ping round trip")
        for region in regions:
            hello, rtt_ms = trio.run(_ping, PORTS[region].gateway)
            print(f"   {region}: hello {json.dumps(hello)}; ping->pong in {rtt_ms:.1f} ms")

        if len(regions) >= 2:
            _title(f"4. Across borders: people of {', '.join(regions)} talk, each on their own node")
            trio.run(_show_across_borders, regions)

        _title(f"5. Identity on the {regions[0]} node: register, sign in, RBAC, the audit log")
        trio.run(_show_identity, regions[0])
        _show_audit_verify(regions[0])

        _title(f"6. Messaging on the {regions[0]} node: a private chat, a channel with comments, a group")
        trio.run(_show_private_chat, regions[0])

        _title(f"7. A secret chat on the {regions[0]} node: end-to-end with GOST (VKO, Kuznyechik AEAD)")
        trio.run(_show_secret_chat, regions[0])

        _title(f"8. Lawful access on the {regions[0]} node: four eyes, a signed export, checked with openssl")
        trio.run(_show_lawful_access, regions[0], state_dir)

        print()
        if args.keep_running:
            print("Nodes are running; press Ctrl-C to stop them.")
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
        _title("Stopping the nodes (SIGTERM, graceful)")
    print("\nNext: `make test` runs the whole suite against this stack; `svyaz stack down` stops it.")
    return 0


def _federation_env(region: str, regions: tuple[str, ...], state_dir: Path) -> dict[str, str]:
    """Settings federating `region`'s node with the others: each node's key in
    `<state dir>/<region>/federation` (made here if missing, as `svyaz federation keygen` would), its
    peers' public keys pinned from there. On real servers the PEMs are exchanged out of band."""
    peers = [peer for peer in regions if peer != region]
    if not peers:
        return {}
    for name in regions:
        load_or_generate_federation_key(state_dir / name / "federation")
    pinned = ";".join(f"{peer}={state_dir / peer / 'federation' / PUBLIC_KEY_FILE}" for peer in peers)
    # A fresh stack's first crossing waits for MirrorMaker 2 to find the new outbox topics.
    return {"SVYAZ_FEDERATION__ENABLED": "true", "SVYAZ_FEDERATION__PEERS": pinned,
            "SVYAZ_FEDERATION__ANSWER_WAIT_S": "60"}


@contextmanager
def _nodes(regions: tuple[str, ...], state_dir: Path):
    procs: dict[str, subprocess.Popen] = {}
    logs = {region: state_dir / region / "node.log" for region in regions}
    try:
        for region in regions:
            logs[region].parent.mkdir(parents=True, exist_ok=True)
            with open(logs[region], "ab") as log:
                procs[region] = subprocess.Popen(
                    [sys.executable, "-m", "svyaz.cli", "node", "serve", "--region", region],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, **_federation_env(region, regions, state_dir)},
                )
        for region in regions:
            _wait_ready(region, procs[region], logs[region])
        yield logs
    finally:
        for region, proc in procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for region, proc in procs.items():
            try:
                code = proc.wait(timeout=15)
                print(f"   {region}: node exited with code {code}")
            except subprocess.TimeoutExpired:
                proc.kill()
                print(f"   {region}: node did not stop within 15 s and was killed")


def _wait_ready(region: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + NODE_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-10:]
            raise SvyazError(f"the {region} node exited with code {proc.returncode}:\n    " + "\n    ".join(tail),
                             hint=f"read {log}")
        try:
            _get_json(f"http://127.0.0.1:{PORTS[region].http}/readyz")
            return
        except (OSError, ValueError):
            time.sleep(0.3)
    raise SvyazError(f"the {region} node was not ready within {NODE_READY_TIMEOUT_S:.0f}s", hint=f"read {log}")


def _title(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _get_json(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:  # 503 still carries the JSON body
        if err.code == 503:
            raise ValueError("not ready") from err
        raise


async def _ping(port: int) -> tuple[dict, float]:
    with trio.fail_after(10):
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            hello = json.loads(await ws.get_message())
            began = time.perf_counter()
            await ws.send_message(json.dumps({"type": "ping", "id": "demo"}))
            await ws.get_message()
            return hello, (time.perf_counter() - began) * 1000


async def _show_identity(region: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    password = "demo harbour lantern " + suffix
    url = f"ws://127.0.0.1:{PORTS[region].gateway}/"
    async with open_node_client(url) as anonymous:
        for name in (f"anna_{suffix}", f"anna_work_{suffix}"):  # a second account on the same device
            account = f"@{name}:{region}"
            await anonymous.call("account.register", account=account, password=password)
            print(f"   registered {account}")
        try:
            await anonymous.call("auth.login", account=account, password="wrong password here")
        except RemoteError as err:
            print(f"   a wrong password: {err.code} (audited)")
        for _ in range(50):  # a node answers `unavailable` until it has loaded role assignments
            try:
                signed_in = await anonymous.call("auth.login", account=account, password=password, device="demo")
                break
            except RemoteError as err:
                if err.code != "unavailable":
                    raise
                await trio.sleep(0.2)
    print(f"   signed in as {signed_in['account']}; access token valid until {signed_in['access_expires_at']}")
    async with open_node_client(url, access_token=signed_in["access_token"]) as client:
        profile = await client.call("account.profile.read")
        print(f"   profile: roles {profile['roles'] or 'none granted'}, 2FA {'on' if profile['two_factor'] else 'off'}")
        try:
            await client.call("role.grant", account=account, role="admin")
        except RemoteError as err:
            print(f"   role.grant as a plain user: {err.code} (the denial is in the audit log)")


async def _sign_up(url: str, account: str, password: str) -> dict:
    async with open_node_client(url) as anonymous:
        await anonymous.call("account.register", account=account, password=password)
        return await anonymous.call("auth.login", account=account, password=password, device="demo")


async def _show_private_chat(region: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    password = "demo river compass " + suffix
    url = f"ws://127.0.0.1:{PORTS[region].gateway}/"
    anna, boris = f"@anna_{suffix}:{region}", f"@boris_{suffix}:{region}"
    anna_tokens, boris_tokens = await _sign_up(url, anna, password), await _sign_up(url, boris, password)
    async with open_node_client(url, access_token=anna_tokens["access_token"]) as a, \
            open_node_client(url, access_token=boris_tokens["access_token"]) as b:
        for text in ("Привет! Lunch at 13?", "The usual place", "Bring the report, please"):
            client_id = uuid.uuid4().hex
            began = time.perf_counter()
            ack = await a.call("message.send", to=boris, text=text, client_id=client_id)
            acked = time.perf_counter()
            event = await _next_event(b, "message.created")
            print(f"   {anna} -> {boris}: seq {ack['seq']} acked in {(acked - began) * 1000:.1f} ms, "
                  f"pushed to {boris} in {(time.perf_counter() - began) * 1000:.1f} ms: {event['message']['text']!r}")
        again = await a.call("message.send", to=boris, text="Bring the report, please", client_id=client_id)
        print(f"   the last send again with the same client id (a resend after a timeout): seq {again['seq']}, "
              "nothing new stored")
        [entry] = (await b.call("chat.list"))["chats"]
        print(f"   {boris}'s chat list: {entry['peer']}, {entry['unread']} unread, preview {entry['preview']!r}")
        await b.call("message.read", chat=ack["chat"], seq=ack["seq"])
        receipt = await _next_event(a, "receipt.read")
        print(f"   {boris} read up to seq {ack['seq']}; {anna} got the read receipt (seq {receipt['seq']})")
        print(f"   stored in the private bulkhead: svyaz_{region}_private.messages, _id {ack['chat']}#000000000001..3")

        channel = await a.call("channel.create", title="Город: новости")
        await b.call("channel.subscribe", channel=channel["chat"])
        post = await a.call("channel.post", channel=channel["chat"], client_id=uuid.uuid4().hex,
                            text="Metro line 3 opens today: https://example.org/metro")
        pushed = await _next_event(b, "message.created", channel["chat"])
        thread = f"{channel['chat']}/p/{post['seq']}"
        await b.call("channel.comment", thread=thread, text="Finally!", client_id=uuid.uuid4().hex)
        [shown] = (await b.call("message.history", chat=channel["chat"]))["messages"]
        print(f"   channel {channel['title']!r}: post {post['seq']} with links {post['links']} pushed live to the "
              f"subscriber ({pushed['chat']}); {shown['comments']} comment in its thread {thread}")
        group = await a.call("group.create", title="Lunch club", members=[boris])
        await a.call("message.send", chat=group["chat"], text="Friday?", client_id=uuid.uuid4().hex)
        in_group = await _next_event(b, "message.created", group["chat"])
        lines = {c["title"]: c["unread"] for c in (await b.call("chat.list"))["chats"]}
        print(f"   group {group['title']!r}: {in_group['message']['text']!r} reached {boris} live; "
              f"{boris}'s chat list (title: unread) {lines}")


class _DemoKeyring(dict):
    """The demo's devices keep their vault keys in memory (a real device uses the OS keyring)."""

    def set(self, account: str, value: str) -> None:
        self[account] = value

    def delete(self, account: str) -> None:
        self.pop(account, None)


async def _show_secret_chat(region: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    password = "demo harbour lantern " + suffix
    url = f"ws://127.0.0.1:{PORTS[region].gateway}/"
    vera, oleg = f"@vera_{suffix}:{region}", f"@oleg_{suffix}:{region}"
    vera_tokens, oleg_tokens = await _sign_up(url, vera, password), await _sign_up(url, oleg, password)
    with tempfile.TemporaryDirectory(prefix="svyaz-demo-devices-") as devices:
        async with open_node_client(url, access_token=vera_tokens["access_token"]) as v, \
                open_node_client(url, access_token=oleg_tokens["access_token"]) as o:
            on_vera = SecretChats(Messenger(v, account=vera), SecretVault(Path(devices) / "vera", vera, _DemoKeyring()),
                                  me=vera)
            on_oleg = SecretChats(Messenger(o, account=oleg), SecretVault(Path(devices) / "oleg", oleg, _DemoKeyring()),
                                  me=oleg)
            held = await on_oleg.set_up()
            print(f"   {oleg}'s device published its identity key, a signed prekey and {held} one-time prekeys")
            chat = await on_vera.start(oleg)
            print(f"   {vera} started {chat} (policy: {policy_in(on_vera.vault, vera, chat)})")
            ack = await on_vera.send(chat, "Код от сейфа: 4711")
            [stored] = (await o.call("message.history", chat=chat))["messages"]
            print(f"   the node stored #{ack['seq']}: text {stored['text']!r}, a {len(stored['sealed'])}-character "
                  f"sealed envelope and a franking commitment; no plaintext")
            [opened] = await on_oleg.receive(chat)
            print(f"   {oleg}'s device opened it: {opened['text']!r}")
            same = on_vera.safety_number(chat) == on_oleg.safety_number(chat)
            print(f"   safety number {on_oleg.safety_number(chat)} ({'the same' if same else 'DIFFERENT'} "
                  "on both devices: no key was swapped)")


async def _next_event(client, kind: str, chat: str | None = None, *, actor: str | None = None,
                      bound_s: float = 10) -> dict:
    with trio.fail_after(bound_s):
        async for frame in client.pushes:
            if (frame.get("type") == "event" and frame.get("kind") == kind and chat in (None, frame.get("chat"))
                    and actor in (None, frame.get("actor"))):
                return frame
    raise SvyazError(f"the connection closed before a {kind} event arrived")


async def _show_lawful_access(region: str, state_dir: Path) -> None:
    url = f"ws://127.0.0.1:{PORTS[region].gateway}/"
    admin = await _demo_admin(url, region, state_dir)
    if admin is None:
        return
    suffix = uuid.uuid4().hex[:6]
    password = "demo court archive " + suffix
    subject, friend = f"@ivan_{suffix}:{region}", f"@petr_{suffix}:{region}"
    since = time.time()
    async with open_node_client(url, access_token=(await _sign_up(url, subject, password))["access_token"]) as ivan:
        await _sign_up(url, friend, password)
        await ivan.call("message.send", to=friend, text="Встречаемся в 19:00 у фонтана", client_id=uuid.uuid4().hex)
    until = time.time() + 1
    fsb, anna, oleg = f"@fsb_{suffix}:{region}", f"@anna_so_{suffix}:{region}", f"@oleg_so_{suffix}:{region}"
    codes = {account: await _sign_up_with_2fa(url, account, password) for account in (fsb, anna, oleg)}
    async with open_node_client(url, access_token=admin["access_token"]) as operator:
        for account, role in ((fsb, AUTHORITY), (anna, SECURITY_OFFICER), (oleg, SECURITY_OFFICER)):
            await operator.call("role.grant", account=account, role=role)
    print(f"   {admin['account']} (admin) granted {AUTHORITY} to {fsb}, {SECURITY_OFFICER} to {anna} and {oleg}; "
          "each has TOTP on and signs in with a second factor")

    with tempfile.TemporaryDirectory(prefix="svyaz-demo-lawful-") as scratch:
        work = Path(scratch)
        (work / "order.pdf").write_bytes(f"Court order 2-{suffix}/2026 about {subject}".encode())
        basis = {"kind": "court_order", "number": f"2-{suffix}/2026", "date": time.strftime("%Y-%m-%d", time.gmtime()),
                 "issuer": "Tverskoy District Court of Moscow", "document_hash": document_hash(work / "order.pdf")}
        async with AsyncExitStack() as stack:
            authority, first, second = [await stack.enter_async_context(open_node_client(url, access_token=(
                await _login_with_code(url, account, password, codes[account].pop()))["access_token"]))
                for account in (fsb, anna, oleg)]
            request = await authority.call("lawful.request.submit", subject=subject, categories=["metadata", "content"],
                                           since=since, until=until, deadline=time.time() + 30 * 86_400, basis=basis)
            request_id = request["id"]
            print(f"   {fsb} submitted {request_id} about {subject}: metadata, content, under a court order")
            await first.call("lawful.request.review", id=request_id)
            await first.call("lawful.request.approve", id=request_id)
            try:
                again = (await first.call("lawful.request.approve", id=request_id))["state"]
            except RemoteError as err:
                again = err.code
            approved = await second.call("lawful.request.approve", id=request_id)
            print(f"   {anna} approved; {anna} again: {again}; {oleg} approved: {approved['state']}")
            exported = await first.call("lawful.request.export", id=request_id)
            print(f"   {anna} exported it: {', '.join(f['name'] for f in exported['files'])}, "
                  f"signed with the node's export key {exported['export_key']}")

            await _download_as(fsb, codes[fsb].pop(), password, url, request_id, region, work)
            shelf = key_dir(state_dir / region) / EXPORTS_DIR / request_id
            on_shelf = shelf.exists()
            closed = await authority.call("lawful.request.close", id=request_id)
            print(f"   {fsb} closed it: {closed['state']}; the node's copy of the bundle: "
                  f"{'removed' if on_shelf and not shelf.exists() else 'STILL THERE'} ({shelf})")
            shown = await first.call("lawful.request.show", id=request_id)
    print(f"   its steps: submitted ({fsb}), " + ", ".join(f"{s['step']} ({s['actor']})" for s in shown["steps"]))
    report = await _svyaz("lawful", "report", "--region", region)
    print(f"   svyaz lawful report --region {region} (the transparency report, every request of the region):")
    for line in report.stdout.splitlines():
        print(f"      {line}")


async def _download_as(authority: str, recovery_code: str, password: str, url: str, request_id: str, region: str,
                       work: Path) -> None:
    """What the authority does on its own machine: pin the node's export key (the operator hands it
    over out of band), sign in, download and verify the bundle, then check it with plain openssl."""
    pinned = work / f"{region}-export.pub.pem"
    pinned.write_text((await _svyaz("lawful", "export-key", "--region", region)).stdout)
    device = {**os.environ, "SVYAZ_CLIENT_DIR": str(work / "client"),
              "SVYAZ_KEYRING_PASSPHRASE": "demo device " + request_id, "SVYAZ_KEYRING_KDF_ITERATIONS": "1000"}
    await _svyaz("login", "--account", authority, "--node", url, "--recovery-code", recovery_code,
                 "--password-stdin", stdin=password + "\n", env=device)
    downloaded = await _svyaz("lawful", "download", request_id, "--out", str(work), "--key", str(pinned),
                              "--as", authority, env=device)
    print(f"   svyaz lawful download {request_id} --key {pinned.name} --as {authority}:")
    for line in downloaded.stdout.splitlines()[1:3]:
        print(f"      {line.strip()}")
    command = ["openssl", "dgst", "-engine", "gost", "-md_gost12_256", "-verify", f"../{pinned.name}",
               "-signature", "manifest.sig", "manifest.json"]
    checked = await trio.run_process(command, cwd=work / request_id, capture_stdout=True, capture_stderr=True,
                                     check=False)
    print(f"   in {request_id}/: {' '.join(command)}")
    print(f"      -> {checked.stdout.decode().strip() or checked.stderr.decode().strip()} "
          f"(exit status {checked.returncode})")


async def _demo_admin(url: str, region: str, state_dir: Path) -> dict | None:
    """Tokens of the demo's admin of `region`, signed in with TOTP; made on the first run (see the
    module's docstring). None, after saying why, if the region has an admin the demo did not make."""
    saved_path = state_dir / region / DEMO_ADMIN_FILE
    if saved_path.exists():
        saved = json.loads(saved_path.read_text())
        try:
            return await _login_with_totp(url, saved["account"], saved["password"], saved["totp_secret"])
        except RemoteError as err:
            if err.code not in ("unknown_account", "bad_credentials"):
                raise
            saved_path.unlink()   # the stack's data was reset since: make a new admin
    account, password = f"@demo_admin_{uuid.uuid4().hex[:6]}:{region}", "demo admin " + secrets.token_hex(8)
    secret = await _sign_up_with_2fa(url, account, password, keep_secret=True)
    granted = await _svyaz("node", "bootstrap-admin", "--region", region, "--account", account, check=False)
    print(f"   operator: svyaz node bootstrap-admin --region {region} --account {account}")
    print(f"      -> {((granted.stdout or granted.stderr).strip().splitlines() or ['(no output)'])[0]}")
    if granted.returncode != 0:
        print(f"   skipped: granting the roles needs an admin of {region}; this one was made outside the demo")
        return None
    saved_path.write_text(json.dumps({"account": account, "password": password, "totp_secret": secret}))
    saved_path.chmod(0o600)
    tokens = await _login_with_totp(url, account, password, secret)
    async with open_node_client(url, access_token=tokens["access_token"]) as client:
        with trio.fail_after(30):   # the node hears of the grant over Kafka
            while ADMIN not in (await client.call("account.profile.read"))["roles"]:
                await trio.sleep(0.2)
    return tokens


async def _sign_up_with_2fa(url: str, account: str, password: str, *, keep_secret: bool = False):
    """A new account with TOTP confirmed (`svyaz 2fa enable`, `svyaz 2fa confirm`): its recovery
    codes, or with `keep_secret` the TOTP secret (the demo's authenticator app)."""
    tokens = await _sign_up(url, account, password)
    async with open_node_client(url, access_token=tokens["access_token"]) as client:
        secret = (await client.call("2fa.enable", password=password))["secret"]
        confirmed = await client.call("2fa.confirm", password=password, code=code_at(secret, time_step(time.time())))
    return secret if keep_secret else confirmed["recovery_codes"]


async def _login_with_code(url: str, account: str, password: str, recovery_code: str) -> dict:
    async with open_node_client(url) as anonymous:
        return await anonymous.call("auth.login", account=account, password=password, recovery_code=recovery_code,
                                    device="demo")


async def _login_with_totp(url: str, account: str, password: str, secret: str) -> dict:
    async with open_node_client(url) as anonymous:
        while True:
            try:
                return await anonymous.call("auth.login", account=account, password=password, device="demo",
                                            totp_code=code_at(secret, time_step(time.time())))
            except RemoteError as err:
                if err.code != "totp_replayed":   # this code was used already: wait for the next one
                    raise
            await trio.sleep(30 - time.time() % 30 + 0.5)


async def _svyaz(*args: str, stdin: str = "", env: dict[str, str] | None = None,
                 check: bool = True) -> subprocess.CompletedProcess:
    """A `svyaz` command as its own process, as an operator or an authority runs it."""
    result = await trio.run_process([sys.executable, "-m", "svyaz.cli", *args], stdin=stdin.encode(),
                                    capture_stdout=True, capture_stderr=True, env=env, check=False)
    done = subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(), result.stderr.decode())
    if check and done.returncode != 0:
        raise SvyazError(f"svyaz {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done


def _show_audit_verify(region: str) -> None:
    result = subprocess.run([sys.executable, "-m", "svyaz.cli", "audit", "verify", "--region", region],
                            capture_output=True, text=True)
    print(f"   svyaz audit verify --region {region}: {(result.stdout or result.stderr).strip()}")


async def _show_across_borders(regions: tuple[str, ...]) -> None:
    suffix = uuid.uuid4().hex[:6]
    password = "demo steppe caravan " + suffix
    names = {"ru": "ivan", "by": "olga", "kz": "aigul"}
    people = {region: f"@{names.get(region, 'user')}_{suffix}:{region}" for region in regions}
    urls = {region: f"ws://127.0.0.1:{PORTS[region].gateway}/" for region in regions}
    tokens = {region: await _sign_up(urls[region], people[region], password) for region in regions}
    first, last = regions[0], regions[-1]
    async with AsyncExitStack() as stack:
        clients = {region: await stack.enter_async_context(open_node_client(
            urls[region], access_token=tokens[region]["access_token"])) for region in regions}
        found = await clients[first].call("directory.lookup", account=people[last])
        print(f"   {people[first]} looks up {people[last]} on the {last} node: exists={found['exists']}")
        began = time.perf_counter()
        sent = await clients[first].call("message.send", to=people[last], client_id=uuid.uuid4().hex,
                                         text="Привет! Как погода в Алматы?")
        arrived = await _next_event(clients[last], "message.created", sent["chat"], bound_s=60)
        print(f"   {people[first]} -> {people[last]}: {arrived['message']['text']!r} arrived on the {last} node "
              f"{(time.perf_counter() - began) * 1000:.0f} ms after the send")
        began = time.perf_counter()
        await clients[last].call("message.send", to=people[first], text="Сәлем! Солнечно.", client_id=uuid.uuid4().hex)
        answer = await _next_event(clients[first], "message.created", sent["chat"], actor=people[last])
        print(f"   {people[last]} -> {people[first]}: {answer['message']['text']!r} in "
              f"{(time.perf_counter() - began) * 1000:.0f} ms")
        group = await clients[first].call("group.create", title="Евразийский клуб",
                                          members=[people[region] for region in regions[1:]])
        for region in regions:
            await clients[region].call("message.send", chat=group["chat"], client_id=uuid.uuid4().hex,
                                       text=f"Hello from {region}!")
            for other in regions:
                if other != region:
                    await _next_event(clients[other], "message.created", group["chat"], actor=people[region])
        history = await clients[last].call("message.history", chat=group["chat"])
        print(f"   group {group['title']!r} (home: {first}) as {people[last]} reads it on the {last} node: "
              + ", ".join(f"#{m['seq']} {m['text']!r}" for m in history["messages"]))
        neighbour = f"@petr_{suffix}:{first}"
        await _sign_up(urls[first], neighbour, password)
        at_home = await clients[first].call("message.send", to=neighbour, text="Only between us two",
                                            client_id=uuid.uuid4().hex)
    print("   where each conversation is stored (messages per node's store):")
    print(f"      {'conversation':<44}" + "".join(f"{region:>6}" for region in regions))
    for chat, bulkhead in ((sent["chat"], "private"), (group["chat"], "groups"), (at_home["chat"], "private")):
        counts = [_stored(region, bulkhead, chat) for region in regions]
        print(f"      {chat[:44]:<44}" + "".join(f"{count:>6}" for count in counts))
    print("   each message lives on its participants' home nodes only; events crossed as signed records of "
          "outbox.<peer>, carried by MirrorMaker 2. svyaz federation status:")
    status = subprocess.run([sys.executable, "-m", "svyaz.cli", "federation", "status"], capture_output=True, text=True)
    for line in (status.stdout or status.stderr).splitlines():
        print(f"      {line}")


def _stored(region: str, bulkhead: str, chat: str) -> int:
    with MongoClient(mongo_url(region), serverSelectionTimeoutMS=3000) as client:
        return client[f"svyaz_{region}_{bulkhead}"]["messages"].count_documents({"chat": chat})
