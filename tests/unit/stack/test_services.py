"""What the stack writes for Kafka and MirrorMaker 2: the allow-list is the compliance boundary."""

from pathlib import Path

from svyaz.stack.services import KafkaBroker, MirrorMaker, Runtime

RUNTIME = Runtime(java="java", kafka_lib=Path("/lib"), log4j_config=Path("/log4j2.xml"), ferretdb=Path("/ferretdb"))


def _settings(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_mirrormaker_replicates_exactly_the_peer_outbox_on_every_flow(tmp_path):
    settings = _settings(MirrorMaker(("ru", "by", "kz"), tmp_path, RUNTIME).properties())

    flows = {key.removesuffix(".topics"): value for key, value in settings.items()
             if key.endswith(".topics") and "->" in key}
    # The peer's outbox, bare or under a test's own prefix (`t3f9a1c2b.outbox.kz`).
    assert flows == {
        "ru->by": r"(t[0-9a-f]{8}\.)?outbox\.by", "ru->kz": r"(t[0-9a-f]{8}\.)?outbox\.kz",
        "by->ru": r"(t[0-9a-f]{8}\.)?outbox\.ru", "by->kz": r"(t[0-9a-f]{8}\.)?outbox\.kz",
        "kz->ru": r"(t[0-9a-f]{8}\.)?outbox\.ru", "kz->by": r"(t[0-9a-f]{8}\.)?outbox\.by",
    }
    assert all(settings[f"{flow}.enabled"] == "true" for flow in flows)
    assert settings["clusters"] == "ru, by, kz"


def test_mirrormaker_sends_no_heartbeats_checkpoints_or_group_offsets_across(tmp_path):
    settings = _settings(MirrorMaker(("ru", "kz"), tmp_path, RUNTIME).properties())

    assert settings["emit.heartbeats.enabled"] == "false"
    assert settings["emit.checkpoints.enabled"] == "false"
    assert settings["sync.group.offsets.enabled"] == "false"
    assert settings["heartbeats.replication.enabled"] == "false"
    assert "ru->by.enabled" not in settings


def test_mirrormaker_notices_a_changed_region_list(tmp_path):
    MirrorMaker(("ru", "kz"), tmp_path, RUNTIME).prepare()

    assert not MirrorMaker(("ru", "kz"), tmp_path, RUNTIME).config_changed()
    assert MirrorMaker(("ru", "by", "kz"), tmp_path, RUNTIME).config_changed()


def test_mirrormaker_notices_changed_settings_so_up_restarts_it(tmp_path):
    mirror = MirrorMaker(("ru", "kz"), tmp_path, RUNTIME)
    mirror.prepare()
    written = mirror.config_path.read_text()
    mirror.config_path.write_text(written.replace("tasks.max = 1\n", "tasks.max = 2\n"))

    assert written != mirror.config_path.read_text()
    assert mirror.config_changed()


def test_kafka_broker_listens_on_its_regions_ports_only(tmp_path):
    broker = KafkaBroker("by", tmp_path, RUNTIME)
    settings = _settings(broker._properties())

    assert settings["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert settings["process.roles"] == "broker,controller"
    assert settings["log.dirs"] == str(tmp_path / "by" / "kafka" / "data")
    assert broker.argv()[-2:] == ["kafka.Kafka", str(tmp_path / "by" / "kafka" / "server.properties")]
