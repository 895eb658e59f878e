"""What the stack writes for Kafka and MirrorMaker 2: the allow-list is the compliance boundary."""

from pathlib import Path

from svyaz.stack.services import KafkaBroker, MirrorMaker, Runtime

RUNTIME = Runtime(java="java", kafka_lib=Path("/lib"), log4j_config=Path("/log4j2.xml"), ferretdb=Path("/ferretdb"))


def _settings(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_mirrormaker_replicates_exactly_the_peer_outbox_on_every_flow(tmp_path):
    settings = _settings(MirrorMaker(("ru", "by", "kz"), tmp_path, RUNTIME).properties())

    flows = {key.removesuffix(".topics"): value for key, value in settings.items() if key.endswith(".topics")}
    assert flows == {
        "ru->by": r"outbox\.by", "ru->kz": r"outbox\.kz",
        "by->ru": r"outbox\.ru", "by->kz": r"outbox\.kz",
        "kz->ru": r"outbox\.ru", "kz->by": r"outbox\.by",
    }
    assert all(settings[f"{flow}.enabled"] == "true" for flow in flows)
    assert settings["clusters"] == "ru, by, kz"


def test_mirrormaker_sends_no_heartbeats_checkpoints_or_group_offsets_across(tmp_path):
    settings = _settings(MirrorMaker(("ru", "kz"), tmp_path, RUNTIME).properties())

    assert settings["emit.heartbeats.enabled"] == "false"
    assert settings["emit.checkpoints.enabled"] == "false"
    assert settings["sync.group.offsets.enabled"] == "false"
    assert "ru->by.enabled" not in settings


def test_mirrormaker_notices_a_changed_region_list(tmp_path):
    MirrorMaker(("ru", "kz"), tmp_path, RUNTIME).prepare()

    assert not MirrorMaker(("ru", "kz"), tmp_path, RUNTIME).config_changed()
    assert MirrorMaker(("ru", "by", "kz"), tmp_path, RUNTIME).config_changed()


def test_kafka_broker_listens_on_its_regions_ports_only(tmp_path):
    broker = KafkaBroker("by", tmp_path, RUNTIME)
    settings = _settings(broker._properties())

    assert settings["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert settings["process.roles"] == "broker,controller"
    assert settings["log.dirs"] == str(tmp_path / "by" / "kafka" / "data")
    assert broker.argv()[-2:] == ["kafka.Kafka", str(tmp_path / "by" / "kafka" / "server.properties")]
