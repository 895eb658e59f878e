"""`svyaz federation mm2-config` through the real argument parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from svyaz.cli import build_parser, main
from svyaz.federation.errors import FederationConfigError

GOLDEN = Path(__file__).parent / "golden" / "mm2-ru-by-kz.properties"


def test_mm2_config_prints_the_golden_config(capsys):
    assert main(["federation", "mm2-config", "--regions", "ru,by,kz"]) == 0
    assert capsys.readouterr().out == GOLDEN.read_text()


def test_mm2_config_writes_a_file_with_the_clusters_given(tmp_path, capsys):
    out = tmp_path / "mm2.properties"

    code = main(["federation", "mm2-config", "--regions", "ru,kz", "--cluster", "kz=kafka.kz.example:9092",
                 "--out", str(out)])

    assert code == 0
    text = out.read_text()
    assert "kz.bootstrap.servers = kafka.kz.example:9092" in text
    assert "ru->kz.topics = outbox\\.kz" in text and "by" not in text.replace("by ", "")
    assert "ru->kz, kz->ru" in capsys.readouterr().err


def test_mm2_config_carries_the_nodes_topic_prefix(capsys):
    assert main(["federation", "mm2-config", "--regions", "ru,kz", "--topic-prefix", "svyaz-1."]) == 0

    text = capsys.readouterr().out
    assert "ru->kz.topics = svyaz\\-1\\.outbox\\.kz" in text
    assert "kz->ru.topics = svyaz\\-1\\.outbox\\.ru" in text


@pytest.mark.parametrize("prefix, message", [
    ("svyaz", "ending with '.'"),
    ("kz.", "region name 'kz'"),
    ("__svyaz.", "internal"),
])
def test_mm2_config_refuses_a_bad_topic_prefix_as_a_reportable_error(prefix, message, capsys):
    args = build_parser().parse_args(["federation", "mm2-config", "--topic-prefix", prefix])

    with pytest.raises(FederationConfigError, match=f"--topic-prefix: .*{message}"):
        args.handler(args)
    assert main(["federation", "mm2-config", "--topic-prefix", prefix]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_mm2_config_refuses_a_bad_region_as_a_reportable_error():
    args = build_parser().parse_args(["federation", "mm2-config", "--regions", "ru,xx"])

    with pytest.raises(FederationConfigError, match="--regions: unknown region 'xx'") as refused:
        args.handler(args)
    assert refused.value.hint == "use some of ru,by,kz"
    assert main(["federation", "mm2-config", "--regions", "ru,xx"]) == 1  # reported, no traceback
