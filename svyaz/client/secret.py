"""Secret chats from a client: keys published, sessions set up, messages sealed and opened here.

The node sees only public prekeys and sealed envelopes (svyaz.e2e does the cryptography). The
vault (`secret_vault`) is saved after every change to a session and before anything goes out, so
a message key is never used twice, even if the process dies mid-send. Messages this device has
opened are kept in the vault's transcript, because their keys are gone once used: that is the
forward secrecy, and it means a secret chat lives on the device that holds it.

A 1:1 session also carries control messages for the device rather than its user: a member of a
secret group hands its sender key to each other member that way (svyaz.client.secret_groups). They
are applied to the vault's group state as they are opened, and kept out of the transcript shown.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from svyaz.client.messaging import SECRET_PREFIX, Messenger, new_client_id
from svyaz.client.secret_vault import SecretVault
from svyaz.e2e import handshake
from svyaz.e2e.envelope import SENDER_KEY, parse
from svyaz.e2e.errors import SecretChatError
from svyaz.e2e.group import KEPT_KEYS_PER_SENDER, Distribution, PeerSenderKey
from svyaz.e2e.prekeys import DeviceKeys, b64, check_bundle
from svyaz.e2e.safety import safety_number
from svyaz.e2e.session import Session
from svyaz.errors import SvyazError

# Below this many one-time prekeys on the node, the device publishes more.
LOW_WATER = 20
HISTORY_PAGE = 100


def secret_chat_id(one: str, other: str) -> str:
    first, second = sorted((one, other))
    return f"{SECRET_PREFIX}{first}/{second}/{secrets.token_hex(8)}"


def new_group_state() -> dict[str, Any]:
    """A secret group as this device keeps it: its own sender key and whom it went to, and the
    other members' sender keys (by sender, then key id as a string, oldest first)."""
    return {"mine": None, "given_to": [], "peers": {}, "policy": None}


def take_sender_key(state: dict[str, Any], sender: str, body: bytes) -> str:
    """Keep the sender key `sender` handed this device over a 1:1 session. -> its group."""
    distribution = Distribution.from_bytes(body)
    if not distribution.group.startswith("g/"):
        raise SecretChatError(f"a sender key for {distribution.group[:80]!r}, which is not a group")
    group = state.setdefault("groups", {}).setdefault(distribution.group, new_group_state())
    keys = group["peers"].setdefault(sender, {})
    # The same key again (a member re-sending it) must not wind back a chain that has moved on.
    if str(distribution.key_id) not in keys:
        keys[str(distribution.key_id)] = PeerSenderKey.received(distribution, sender=sender).to_dict()
        while len(keys) > KEPT_KEYS_PER_SENDER:
            del keys[next(iter(keys))]
    return distribution.group


def read_up_to(state: dict[str, Any], chat: str) -> int:
    """The last seq of `chat` this device has fetched. Not the transcript's highest seq: this
    device's own message may be stored after one from the peer it has not fetched yet."""
    if "read_up_to" not in state:  # a vault from before the cursor: its chats were read up to their highest seq
        state["read_up_to"] = {held: max((entry["seq"] or 0 for entry in entries), default=0)
                               for held, entries in state["transcript"].items()}
    return state["read_up_to"].get(chat, 0)


def in_order(transcript: list[dict[str, Any]]) -> None:
    """Sort by seq; messages still on their way out (no seq yet) last."""
    transcript.sort(key=lambda entry: (entry["seq"] is None, entry["seq"] or 0))


def peer_of(me: str, chat: str) -> str:
    if not chat.startswith(SECRET_PREFIX) or chat.count("/") != 3:
        raise SvyazError(f"{chat[:80]!r} is not a secret chat id (sc/@a:r/@b:r/<16 hex>)")
    first, second = chat[len(SECRET_PREFIX):].split("/")[:2]
    if me not in (first, second):
        raise SvyazError(f"{me} is not in {chat}")
    return second if me == first else first


class SecretChats:
    def __init__(self, messenger: Messenger, vault: SecretVault, *, me: str) -> None:
        self.messenger = messenger
        self.vault = vault
        self.me = me

    async def set_up(self) -> int:
        """Make this device's keys if it has none, publish them, top up one-time prekeys.
        -> how many one-time prekeys the node holds."""
        state = self.vault.load()
        device = None if state["device"] is None else DeviceKeys.from_dict(state["device"])
        if device is None:
            device = DeviceKeys.create()
            state["device"] = device.to_dict()
            self.vault.save(state)  # the private halves first: never publish a key we could lose
            return await self.messenger.publish_keys(device.public_bundle())
        held = await self.messenger.count_keys()
        if held >= LOW_WATER:
            return held
        fresh = device.top_up(LOW_WATER * 5 - held)
        state["device"] = device.to_dict()
        self.vault.save(state)
        return await self.messenger.publish_keys(device.public_bundle(fresh))

    async def start(self, peer: str) -> str:
        """A new secret chat with `peer`, from the keys they published. -> its chat id."""
        await self.set_up()
        state = self.vault.load()
        device = DeviceKeys.from_dict(state["device"])
        claimed = await self.messenger.claim_keys(peer)
        peer_keys = check_bundle(claimed, max_one_time=1)
        chat = secret_chat_id(self.me, peer)
        session = handshake.start(chat=chat, me=self.me, peer=peer, identity=device.identity, peer_keys=peer_keys,
                                  escrow_key=escrow_key_of(claimed.get("policy")))
        state["sessions"][chat] = session.to_dict()
        state["transcript"][chat] = []
        self.vault.save(state)
        return chat

    async def pairwise(self, peer: str) -> str:
        """A 1:1 secret chat with `peer` this device holds a session for; a new one if none."""
        state = self.vault.load()
        held = sorted(chat for chat in state["sessions"] if peer_of(self.me, chat) == peer)
        # One the peer has answered in (no introduction pending) is the surest; any will do.
        answered = [chat for chat in held if state["sessions"][chat].get("introduction") is None]
        return (answered or held)[0] if held else await self.start(peer)

    async def send(self, chat: str, text: str) -> dict[str, Any]:
        return await self._send(chat, lambda session: session.seal(text), {"text": text})

    async def send_sender_key(self, chat: str, distribution: Distribution) -> dict[str, Any]:
        """Hand a group sender key to the peer's device (a control message, not shown to anyone)."""
        return await self._send(chat, lambda session: session.seal_control(SENDER_KEY, distribution.to_bytes()),
                                {"control": "sender_key", "group": distribution.group})

    async def receive_pairwise(self) -> None:
        """Open what arrived in every 1:1 secret chat with news (sender keys for groups among it)."""
        state = self.vault.load()
        for line in await self.messenger.chats(limit=500):
            chat = line.get("chat", "")
            if not chat.startswith(SECRET_PREFIX):
                continue
            if line.get("last_seq", 0) > read_up_to(state, chat):
                await self.receive(chat)

    async def _send(self, chat: str, seal, shown: dict[str, Any]) -> dict[str, Any]:
        state = self.vault.load()
        session = self._session(state, chat)
        sealed = seal(session)
        client_id = new_client_id()
        entry = {"seq": None, "sender": self.me, **shown, "client_id": client_id}
        state["sessions"][chat] = session.to_dict()
        state["transcript"].setdefault(chat, []).append(entry)
        self.vault.save(state)
        ack = await self.messenger.send_sealed(chat, b64(sealed.envelope), b64(sealed.franking), client_id=client_id)
        entry.update(seq=ack["seq"], sent_at=ack["sent_at"])
        self.vault.save(state)
        return ack

    async def receive(self, chat: str) -> list[dict[str, Any]]:
        """Fetch and open what arrived since last time. -> the chat's whole transcript on this device."""
        peer_of(self.me, chat)
        state = self.vault.load()
        if chat not in state["sessions"]:  # a chat someone else started: it runs under our region's policy
            state["policy"] = await self.messenger.secret_policy()
        transcript = state["transcript"].setdefault(chat, [])
        after = read_up_to(state, chat)
        while page := await self.messenger.history(chat, after=after, limit=HISTORY_PAGE):
            for message in page:
                self._take(state, chat, message)
            after = state["read_up_to"][chat] = page[-1]["seq"]
            in_order(transcript)
            self.vault.save(state)
        return [entry for entry in transcript if not entry.get("control")]

    def transcript(self, chat: str) -> list[dict[str, Any]]:
        return [entry for entry in self.vault.load()["transcript"].get(chat, []) if not entry.get("control")]

    def safety_number(self, chat: str) -> str:
        return safety_number_in(self.vault, self.me, chat)

    async def report(self, chat: str, seq: int, *, reason: str, note: str | None = None) -> str:
        """Report one message this device opened, revealing it (and only it) to the moderators."""
        for entry in self.transcript(chat):
            if entry["seq"] == seq and entry.get("franking_key"):
                return await self.messenger.report_secret(chat, seq, text=entry["text"],
                                                           franking_key=entry["franking_key"], reason=reason, note=note)
        raise SvyazError(f"no message {seq} from the other person opened on this device in {chat}")

    def _take(self, state: dict[str, Any], chat: str, message: dict[str, Any]) -> None:
        transcript = state["transcript"][chat]
        if message["sender"] == self.me:
            note_own_message(transcript, message)
            return
        entry = {"seq": message["seq"], "sender": message["sender"], "sent_at": message["sent_at"]}
        if message.get("deleted"):
            transcript.append({**entry, "deleted": True})
            return
        try:
            opened, session = self._open(state, chat, message)
        except SecretChatError as err:
            transcript.append({**entry, "error": str(err)})
            return
        state["sessions"][chat] = session.to_dict()
        if opened.is_text:
            transcript.append({**entry, "text": opened.text, "franking_key": b64(opened.franking_key)})
        elif opened.kind == SENDER_KEY:
            try:
                group = take_sender_key(state, message["sender"], opened.control)
            except SecretChatError as err:
                transcript.append({**entry, "control": "sender_key", "error": str(err)})
            else:
                transcript.append({**entry, "control": "sender_key", "group": group})
        else:  # a control message of a later version: its key is spent, so it is noted, not retried
            transcript.append({**entry, "control": f"unknown kind {opened.kind}"})

    def _open(self, state: dict[str, Any], chat: str, message: dict[str, Any]):
        try:
            envelope = parse(base64.b64decode(message.get("sealed") or "", validate=True))
            franking = base64.b64decode(message.get("franking") or "", validate=True)
        except binascii.Error:
            raise SecretChatError("the node delivered a secret message that is not base64") from None
        if chat in state["sessions"]:
            session = Session.from_dict(state["sessions"][chat])
            return session.open(envelope, franking), session
        if envelope.introduction is None:
            raise SecretChatError("no session for this secret chat on this device (it was started on another one)")
        device = DeviceKeys.from_dict(state["device"])
        session = handshake.accept(chat=chat, me=self.me, peer=message["sender"], device=device,
                                   introduction=envelope.introduction,
                                   escrow_key=escrow_key_of(state.get("policy")))
        opened = session.open(envelope, franking)
        state["device"] = device.to_dict()  # the one-time prekey is spent only once the message opened
        return opened, session

    def _session(self, state: dict[str, Any], chat: str) -> Session:
        return _session(state, self.me, chat)


def policy_in(vault: SecretVault, me: str, chat: str) -> str:
    """What the user is told: "strict" (nobody but the two devices can read it) or "escrow"."""
    return "escrow" if _session(vault.load(), me, chat).escrow_key is not None else "strict"


def escrow_key_of(policy: object) -> bytes | None:
    """The escrow public key a policy from the node names, or None under a strict policy."""
    if not isinstance(policy, dict) or policy.get("mode") != "escrow":
        return None
    try:
        return base64.b64decode(str(policy.get("escrow_key")), validate=True)
    except binascii.Error:
        raise SvyazError("the node's secret-chat policy names an escrow key that is not base64") from None


def note_own_message(transcript: list[dict[str, Any]], message: dict[str, Any]) -> None:
    """This device's own message, as the node stored it: its text is already in the transcript
    (its key is gone), so only its seq and time are filled in."""
    for entry in transcript:
        if entry.get("client_id") == message["client_id"]:
            entry.update(seq=message["seq"], sent_at=message["sent_at"])


def held_chats(vault: SecretVault) -> list[str]:
    """The secret chats this device holds a session for (no node needed)."""
    return sorted(vault.load()["sessions"])


def safety_number_in(vault: SecretVault, me: str, chat: str) -> str:
    """The chat's safety number, from the identity keys in this device's session (no node needed)."""
    session = _session(vault.load(), me, chat)
    return safety_number((session.me, session.my_identity_key), (session.peer, session.peer_identity_key))


def _session(state: dict[str, Any], me: str, chat: str) -> Session:
    peer_of(me, chat)
    if chat not in state["sessions"]:
        raise SvyazError(f"this device holds no session for {chat}",
                         hint="`svyaz secret read` it first if the other person started it")
    return Session.from_dict(state["sessions"][chat])
