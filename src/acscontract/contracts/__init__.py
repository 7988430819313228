"""The contract suite's machinery: strategies, checks, the lifecycle machine, targets, pacing.

The contracts themselves are pytest modules in the bundled `contracts/` folder; the pytest plugin
(`acscontract.contracts.plugin`, registered through the `pytest11` entry point) gives them their
options, fixtures and summary. This package imports nothing heavy, so that the plugin costs
unrelated test runs nothing; import the submodules you need.
"""

from __future__ import annotations

__all__: list[str] = []
