"""``synack serve``/``connect`` --loss --delay --duplicate --reorder --seed and
--busy-poll: parsing and wiring (no privileges: the commands themselves are replaced)."""

from __future__ import annotations

from typing import Any

import pytest

from synack import cli
from synack.drivers import commands
from synack.drivers.faults import Impairments, TunFaults

Calls = list[tuple[str, tuple[Any, ...]]]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    seen: Calls = []
    monkeypatch.setattr(commands, "serve", lambda *args: seen.append(("serve", args)))
    monkeypatch.setattr(commands, "connect", lambda *args: seen.append(("connect", args)))
    return seen


def test_serve_takes_the_faults_for_both_directions(calls: Calls) -> None:
    assert cli.main(["serve", "--loss", "5%", "--delay", "2.5", "--duplicate", "0.01", "--reorder", "0.02",
                     "--seed", "7"]) == 0
    ((name, args),) = calls
    faults, busy_poll = args[-2:]
    assert name == "serve" and isinstance(faults, TunFaults) and busy_poll == 0
    expected = Impairments(loss=0.05, delay=2500, duplicate=0.01, reorder=0.02)
    assert faults.inbound is not None and faults.outbound is not None
    for path in (faults.inbound, faults.outbound):
        assert path.impairments == expected and path.seed == 7 and path.faults == []
    # Each direction its own stream of the seed.
    assert faults.inbound.rng.random() != faults.outbound.rng.random()


def test_connect_takes_them_too_and_none_means_no_fault_layer(calls: Calls) -> None:
    assert cli.main(["connect", "198.18.0.1", "80", "--loss", "0.1"]) == 0
    assert cli.main(["connect", "198.18.0.1", "80"]) == 0
    assert cli.main(["serve", "--seed", "3"]) == 0
    (_, lossy), (_, plain), (_, seeded) = calls
    assert isinstance(lossy[-2], TunFaults) and lossy[-2].inbound is not None
    assert lossy[-2].inbound.impairments == Impairments(loss=0.1)
    assert plain[-2] is None and seeded[-2] is None


@pytest.mark.parametrize("command", [["serve"], ["connect", "198.18.0.1", "80"]])
@pytest.mark.parametrize(("flag", "value", "what"), [
    ("--loss", "2", "not a probability: '2'"),
    ("--loss", "-0.1", "not a probability"),
    ("--duplicate", "abc", "not a probability: 'abc'"),
    ("--reorder", "150%", "not a probability: '150%'"),
    ("--duplicate", "nan", "not a probability"),
    ("--delay", "-1", "not a delay: '-1'"),
    ("--delay", "1e9", "not a delay"),
    ("--delay", "20ms", "not a delay: '20ms'"),
    ("--seed", "-3", "not a seed"),
    ("--busy-poll", "-1", "not a busy poll: '-1'"),
    ("--busy-poll", "100001", "not a busy poll: '100001' (0 to 100000 µs)"),
    ("--busy-poll", "50us", "not a busy poll: '50us'"),
])
def test_a_bad_value_is_one_line_and_status_2(command: list[str], flag: str, value: str, what: str,
                                              capsys: pytest.CaptureFixture[str],
                                              calls: Calls) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"synack: error: argument {flag}: {what}")
    assert calls == []


@pytest.mark.parametrize("command", [["serve"], ["connect", "198.18.0.1", "80"]])
def test_busy_poll_reaches_the_command(command: list[str], calls: Calls) -> None:
    assert cli.main([*command, "--busy-poll", "250"]) == 0
    assert cli.main([*command, "--busy-poll", "100000"]) == 0
    assert [args[-1] for _, args in calls] == [250, 100000]


def test_make_faults() -> None:
    assert commands.make_faults() is None
    faults = commands.make_faults(reorder=1.0, seed=4)
    assert faults is not None and faults.outbound is not None
    assert faults.outbound.impairments == Impairments(reorder=1.0) and faults.outbound.seed == 4
    with pytest.raises(commands.CommandError):
        commands.make_faults(loss=3)
