"""The numerics tests once more with XLA:CPU limited to a lower instruction set (issue 25).

XLA:CPU compiles other kernels for AVX-512 than for AVX2, and for AVX2 than for SSE4.2 (vector
width, FMA, summation order), so float32 results differ in their last bits between machines. The
suite's tolerances come from float32 error bounds (tests/tolerance.py), which hold for every
order; this test checks that they do, on every run of ``make test``: it reruns the numerics tests
(nets, returns and losses, freezing, evolution, PathNet) in a subprocess with
``XLA_FLAGS=--xla_cpu_max_isa=<one level below this machine's>``. docs/tests.md says how to run
the whole suite so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

NUMERICS = [
    *(
        f"tests/nets/test_reference.py::test_all_columns_match_numpy_reference[jit-{column}]"
        for column in ("mlp-plain", "conv-adapter", "atari-adapter")
    ),
    "tests/nets/test_pathnet.py::test_forward_matches_numpy_reference",
    "tests/nets/test_pathnet.py::test_masked_forward_equals_the_gathered_one",
    "tests/nets/test_progressive.py::test_orthonormal_columns_equal_the_sign_corrected_qr_factor",
    "tests/rl/test_returns_and_losses.py",
    "tests/test_freezing.py::test_columns_stay_bit_identical[adapter-rmsprop]",
    "tests/test_evolution.py::test_search_finds_a_target_path_and_traces_once[replace_losers-2]",
    "tests/train/test_pathnet_search.py::test_isolated_schedule_trains_both_from_the_same_weights_and_keeps_the_winner",
]
"""The tests whose assertions are float32 bounds (against float64 references, or between two
programs of one computation) or bit-exact freezing, one case of each code path (dense, conv and
Atari columns with laterals; PathNet gathered and masked; the orthonormal factor; returns, GAE and
the losses; frozen columns under an optimizer; a path search; a PathNet training session),
compiled (``jax.jit``; the op-by-op variants run the same kernels one at a time): under a minute
on 2 cores. Their other cases take the same code paths at other sizes and options and run in the
main run only."""

LEVELS = ("SSE4_2", "AVX", "AVX2", "AVX512", "AVX512_VNNI", "AVX512_BF16", "AMX", "AMX_FP16")
"""XLA:CPU's ``--xla_cpu_max_isa`` values, lowest first."""

CPU_FLAGS = {
    "sse4_2": "SSE4_2",
    "avx": "AVX",
    "avx2": "AVX2",
    "avx512f": "AVX512",
    "avx512_vnni": "AVX512_VNNI",
    "avx512_bf16": "AVX512_BF16",
    "amx_tile": "AMX",
    "amx_fp16": "AMX_FP16",
}
"""/proc/cpuinfo flag -> the level it makes available."""


def machine_level(cpuinfo: str) -> str | None:
    """The highest level whose flag the first CPU of ``cpuinfo`` lists (None: not x86-64 or unknown)."""
    match = re.search(r"^flags\s*:(.*)$", cpuinfo, re.M)
    flags = set(match.group(1).split()) if match else set()
    found = [level for flag, level in CPU_FLAGS.items() if flag in flags]
    return max(found, key=LEVELS.index) if found else None


def one_level_below(level: str | None) -> str | None:
    """The next lower code path of XLA:CPU: any AVX-512 level -> AVX2, AVX2 or AVX -> SSE4_2; None
    below that (nothing lower to compare with). The AVX-512 extensions (VNNI, BF16, AMX) matter
    for low-precision types, not float32, so they count as one level with AVX512."""
    if level is None or LEVELS.index(level) <= LEVELS.index("SSE4_2"):
        return None
    return "AVX2" if LEVELS.index(level) >= LEVELS.index("AVX512") else "SSE4_2"


def effective_level(cpuinfo: str, xla_flags: str) -> str | None:
    """The machine's level, or the lower one an ``--xla_cpu_max_isa`` in ``xla_flags`` already sets."""
    level = machine_level(cpuinfo)
    set_by_flag = re.search(r"--xla_cpu_max_isa=(\w+)", xla_flags)
    if level is not None and set_by_flag and set_by_flag.group(1).upper() in LEVELS:
        level = min(level, set_by_flag.group(1).upper(), key=LEVELS.index)
    return level


def test_levels_from_cpu_flags():
    sapphire_rapids = "flags\t\t: fpu sse4_2 avx avx2 avx512f avx512_vnni avx512_bf16 amx_tile\n"
    epyc_rome = "flags\t\t: fpu sse4_2 avx avx2 fma\n"
    assert machine_level(sapphire_rapids) == "AMX" and one_level_below("AMX") == "AVX2"
    assert machine_level(epyc_rome) == "AVX2" and one_level_below("AVX2") == "SSE4_2"
    assert one_level_below("SSE4_2") is None and machine_level("processor : 0\n") is None
    assert effective_level(sapphire_rapids, "--xla_cpu_max_isa=AVX2") == "AVX2"
    assert effective_level(epyc_rome, "--xla_cpu_max_isa=avx512") == "AVX2"  # a flag never raises it


def test_numerics_hold_one_instruction_set_lower(tmp_path):
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = os.environ.get("XLA_FLAGS", "")
    level = effective_level(cpuinfo, flags)
    lower = one_level_below(level)
    if lower is None:
        pytest.skip(f"no lower XLA:CPU instruction set to compare with (this CPU: {level or 'not x86-64'})")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))}
    env["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path / "xla_cache")  # programs of this instruction set only
    others = re.sub(r"--xla_cpu_max_isa=\S+", "", flags)
    env["XLA_FLAGS"] = f"{others} --xla_cpu_max_isa={lower}".strip()
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow"]
    args += ["-k", "not nojit"]
    args += NUMERICS
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    tail = (done.stdout + done.stderr)[-4000:]
    where = f"XLA_FLAGS={env['XLA_FLAGS']!r} (this CPU: {level})"
    assert done.returncode == 0, f"numerics tests with {where}:\n{tail}"
    assert re.search(r"\d+ passed", tail) and "failed" not in tail, tail
