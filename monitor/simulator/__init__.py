"""A loopback platform simulator (Weibo, WeChat, RSS/Atom feeds) driven by a scenario.

`monitor simulate` and the tests use it to exercise the monitor without the internet.
"""

from monitor.simulator.generate import generate_city
from monitor.simulator.ready import SECRET_ENV, env_lines, own_network, write_ready_file
from monitor.simulator.roster import ROSTER_COLUMNS, write_roster
from monitor.simulator.scenario import (
    FAULTS,
    Scenario,
    ScenarioError,
    SimAccount,
    load_scenario,
    parse_scenario,
)
from monitor.simulator.server import SimulatorServer

__all__ = [
    "FAULTS",
    "ROSTER_COLUMNS",
    "SECRET_ENV",
    "Scenario",
    "ScenarioError",
    "SimAccount",
    "SimulatorServer",
    "env_lines",
    "generate_city",
    "load_scenario",
    "own_network",
    "parse_scenario",
    "write_ready_file",
    "write_roster",
]
