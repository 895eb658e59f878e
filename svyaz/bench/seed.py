"""Stored subscribers for the channel bench: the documents `channel.subscribe` writes (a member
document in the channels bulkhead, the account's entry in the chat list's membership index, the
channel's member count), written in bulk for accounts that never connect.

A million subscriptions through the gateway would take hours on this machine and measure the
subscribe path, not the post; the post path reads none of these documents, which is the point
the bench makes. Blocking (pymongo): run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable

from pymongo import MongoClient

SUBSCRIBER = "subscriber"   # svyaz.messaging.model.SUBSCRIBER, spelled here so the bench stays a client


def seed_subscribers(store_url: str, database_prefix: str, channel: str, count: int, *, tag: str,
                     batch: int = 10_000, chat_lists: bool = True,
                     progress: Callable[[int], None] = lambda done: None) -> int:
    """Store `count` subscribers `@s<tag>n<i>:ru` of `channel`; returns how many were written.
    Without `chat_lists`, only the member documents (half the time): what the channel itself
    holds, without the subscribers' own lists of chats."""
    with MongoClient(store_url, serverSelectionTimeoutMS=5000) as client:
        members = client[f"{database_prefix}_channels"]["members"]
        index = client[f"{database_prefix}_chatlist"]["memberships"]
        chats = client[f"{database_prefix}_channels"]["chats"]
        done = 0
        while done < count:
            accounts = [f"@s{tag}n{i:07d}:ru" for i in range(done, min(done + batch, count))]
            members.insert_many([{"_id": f"{channel}|{account}", "chat": channel, "account": account,
                                  "role": SUBSCRIBER} for account in accounts], ordered=False)
            if chat_lists:
                index.insert_many([{"_id": account, "chats": [channel]} for account in accounts], ordered=False)
            chats.update_one({"_id": channel}, {"$inc": {"member_count": len(accounts)}})
            done += len(accounts)
            progress(done)
        return done


def count_documents(store_url: str, database_prefix: str) -> dict[str, int]:
    """Documents per `<bulkhead>.<collection>` of the node's databases (the `count` command; FerretDB
    reads the collection for it, about 15 s a million documents)."""
    counts: dict[str, int] = {}
    with MongoClient(store_url, serverSelectionTimeoutMS=5000) as client:
        for name in client.list_database_names():
            if not name.startswith(f"{database_prefix}_"):
                continue
            for collection in client[name].list_collection_names():
                counts[f"{name.removeprefix(database_prefix + '_')}.{collection}"] = \
                    client[name][collection].estimated_document_count()
    return counts
