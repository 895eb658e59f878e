"""Small-group secret chats from a client: sender keys made, handed out and used here.

A secret group is a node-managed group (`group.create` with `secret: true`) whose messages this
device seals with its sender key (svyaz.e2e.group). The key goes to each other member over the 1:1
secret chat with that member (started here if there is none), as a control message. Before each
send the device compares the group's members with those who hold its key (`group.plan`): if anyone
left, it makes a new key and hands it to those who remain; members who joined get the current one.
Receiving opens the 1:1 chats first, so keys that came with them are there for the group's messages;
a message whose key has not come yet waits in the transcript and is tried again next time.

The vault (svyaz.client.secret_vault) keeps the keys, and the transcript of opened messages under
the group's id, as for a 1:1 chat; it is saved before anything sealed goes out.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from svyaz.client.messaging import new_client_id
from svyaz.client.secret import SecretChats, escrow_key_of, in_order, new_group_state, note_own_message, read_up_to
from svyaz.e2e import group as sealed_group
from svyaz.e2e.errors import SecretChatError
from svyaz.e2e.group import NoSenderKey, PeerSenderKey, SenderKey
from svyaz.e2e.prekeys import b64
from svyaz.errors import SvyazError

GROUP_PREFIX = "g/"
HISTORY_PAGE = 100


def is_group(chat: str) -> bool:
    return chat.startswith(GROUP_PREFIX)


class SecretGroups:
    def __init__(self, chats: SecretChats) -> None:
        self.chats = chats
        self.messenger = chats.messenger
        self.vault = chats.vault
        self.me = chats.me

    async def create(self, title: str, members: list[str]) -> str:
        """A new secret group with `members` (who must have set up secret chats). -> its id."""
        await self.chats.set_up()
        policy = await self.messenger.secret_policy()
        info = await self.messenger.create_group(title, members, secret=True)
        state = self.vault.load()
        group = state.setdefault("groups", {})[info["chat"]] = new_group_state()
        group.update(title=title, policy=policy.get("mode"))
        state["transcript"][info["chat"]] = []
        self.vault.save(state)
        return info["chat"]

    async def send(self, chat: str, text: str) -> dict[str, Any]:
        members = [member["account"] for member in await self.messenger.members(chat, limit=1000)]
        state = self.vault.load()
        group = self._group(state, chat, create=True)  # added by someone else, and no key of ours yet
        decision = sealed_group.plan(me=self.me, members=members,
                                     given_to=None if group["mine"] is None else group["given_to"])
        if decision.new_key:
            policy = await self.messenger.secret_policy()
            old = [] if group["mine"] is None else [group["mine"]["key_id"]]
            key = SenderKey.create(group=chat, me=self.me, escrow_key=escrow_key_of(policy), avoid=old)
            group.update(mine=key.to_dict(), given_to=[], policy=policy.get("mode"))
            self.vault.save(state)
        for member in decision.send_to:
            await self._hand_key(chat, member)

        state = self.vault.load()
        group = self._group(state, chat)
        key = SenderKey.from_dict(group["mine"])
        sealed = key.seal(text)
        client_id = new_client_id()
        entry = {"seq": None, "sender": self.me, "text": text, "client_id": client_id}
        group["mine"] = key.to_dict()
        state["transcript"].setdefault(chat, []).append(entry)
        self.vault.save(state)  # the message key is spent before the message goes out
        ack = await self.messenger.send_sealed(chat, b64(sealed.envelope), b64(sealed.franking), client_id=client_id)
        entry.update(seq=ack["seq"], sent_at=ack["sent_at"])
        self.vault.save(state)
        return ack

    async def receive(self, chat: str) -> list[dict[str, Any]]:
        """Open the 1:1 chats' news (sender keys), then the group's. -> the group's transcript here."""
        if not is_group(chat):
            raise SvyazError(f"{chat[:80]!r} is not a group id (g/<region>/<16 hex>)")
        await self.chats.receive_pairwise()
        state = self.vault.load()
        group = self._group(state, chat, create=True)
        if group["policy"] is None:
            group["policy"] = (await self.messenger.secret_policy()).get("mode")
        transcript = state["transcript"].setdefault(chat, [])
        for entry in transcript:
            if entry.get("pending"):
                self._open_into(group, chat, entry, entry["sealed"], entry["franking"])
        after = read_up_to(state, chat)
        while page := await self.messenger.history(chat, after=after, limit=HISTORY_PAGE):
            for message in page:
                self._take(state, group, chat, message)
            after = state["read_up_to"][chat] = page[-1]["seq"]
        in_order(transcript)
        self.vault.save(state)
        return [_shown(entry) for entry in transcript]

    async def report(self, chat: str, seq: int, *, reason: str, note: str | None = None) -> str:
        for entry in self.vault.load()["transcript"].get(chat, []):
            if entry["seq"] == seq and entry.get("franking_key"):
                return await self.messenger.report_secret(chat, seq, text=entry["text"],
                                                          franking_key=entry["franking_key"], reason=reason, note=note)
        raise SvyazError(f"no message {seq} from another member opened on this device in {chat}")

    async def _hand_key(self, chat: str, member: str) -> None:
        pairwise = await self.chats.pairwise(member)
        state = self.vault.load()
        distribution = SenderKey.from_dict(self._group(state, chat)["mine"]).distribution()
        await self.chats.send_sender_key(pairwise, distribution)
        state = self.vault.load()
        self._group(state, chat)["given_to"].append(member)
        self.vault.save(state)

    def _take(self, state: dict[str, Any], group: dict[str, Any], chat: str, message: dict[str, Any]) -> None:
        transcript = state["transcript"][chat]
        if message["sender"] == self.me:
            note_own_message(transcript, message)
            return
        entry = {"seq": message["seq"], "sender": message["sender"], "sent_at": message["sent_at"]}
        transcript.append(entry)
        if message.get("deleted"):
            entry["deleted"] = True
            return
        self._open_into(group, chat, entry, message.get("sealed") or "", message.get("franking") or "")

    def _open_into(self, group: dict[str, Any], chat: str, entry: dict[str, Any], sealed: str, franking: str) -> None:
        """Open a message into its transcript entry: text, or an error, or pending for a key to come."""
        for name in ("pending", "sealed", "franking", "error"):
            entry.pop(name, None)
        sender = entry["sender"]
        try:
            envelope = sealed_group.parse(base64.b64decode(sealed, validate=True))
            commitment = base64.b64decode(franking, validate=True)
            held = group["peers"].get(sender, {}).get(str(envelope.key_id))
            if held is None:
                raise NoSenderKey(f"{sender}'s key for this message has not reached this device yet")
            key = PeerSenderKey.from_dict(held)
            opened = key.open(envelope, commitment)
        except NoSenderKey as err:
            entry.update(pending=True, sealed=sealed, franking=franking, error=str(err))
            return
        except binascii.Error:
            entry["error"] = "the node delivered a secret message that is not base64"
            return
        except SecretChatError as err:
            entry["error"] = str(err)
            return
        group["peers"][sender][str(envelope.key_id)] = key.to_dict()
        entry.update(text=opened.text, franking_key=b64(opened.franking_key))

    def _group(self, state: dict[str, Any], chat: str, *, create: bool = False) -> dict[str, Any]:
        groups = state.setdefault("groups", {})
        if chat not in groups:
            if not create:
                raise SvyazError(f"this device holds no keys for the secret group {chat}",
                                 hint="`svyaz secret read` it first if someone added you")
            groups[chat] = new_group_state()
        return groups[chat]


def group_policy_in(state: dict[str, Any], chat: str) -> str:
    """"strict" or "escrow", as this device last learned it for the group."""
    group = state.get("groups", {}).get(chat)
    if group is None:
        raise SvyazError(f"this device holds no keys for the secret group {chat}")
    return group.get("policy") or "strict"


def held_groups(state: dict[str, Any]) -> list[str]:
    return sorted(state.get("groups", {}))


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in entry.items() if name not in ("sealed", "franking")}
