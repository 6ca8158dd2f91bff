"""The executor: serial, 2 local processes and a 2-worker Dask LocalCluster give the same ordered results; task
errors propagate; initializers run in the workers; a bad or unreachable --scheduler is one UserInputError line."""

from __future__ import annotations

import math
import os
import socket
import sys

import pytest
from helpers import local_dask_cluster
from nash.frontend.core import executor as ex
from nash.frontend.core.errors import UserInputError
from nash.frontend.core.executor import DaskExecutor, ProcessExecutor, SerialExecutor, make_executor

# Large and small factorials interleaved: the big ones finish last, yet map must keep the input order.
ITEMS = [3000, 1, 2500, 2, 2000, 3, 0, 1500]


@pytest.fixture(scope="module")
def cluster():
    with local_dask_cluster(2) as address:  # its own cluster: the initializer test changes the workers' cwd
        yield address


def _executors(scheduler: str, **kw):
    return [("serial", make_executor(1, **kw)), ("local", make_executor(2, **kw)),
            ("dask", make_executor(2, scheduler=scheduler, **kw))]


def test_kinds_and_ordered_map_agree(cluster):
    want = [math.factorial(n) for n in ITEMS]  # computed here, in this process
    kinds = _executors(cluster)
    assert [type(e) for _, e in kinds] == [SerialExecutor, ProcessExecutor, DaskExecutor]
    for name, e in kinds:
        with e:
            assert list(e.map(math.factorial, ITEMS)) == want, name
            assert e.submit(int, "ff", base=16).result() == 255, name
            assert e.submit(dict, pure=1, key=2).result() == {"pure": 1, "key": 2}, name  # not Dask's own options
            pid = e.submit(os.getpid).result()
            assert (pid != os.getpid()) == e.parallel, name  # serial runs here, the others in worker processes
            with pytest.raises(ValueError, match="invalid literal"):
                e.submit(int, "zz").result()
            with pytest.raises(ValueError, match="invalid literal"):
                list(e.map(int, ["1", "zz", "3"]))


def test_initializer_runs_in_the_workers_not_in_the_caller(cluster, tmp_path):
    here = os.getcwd()
    for name, e in _executors(cluster, initializer=os.chdir, initargs=(str(tmp_path),)):
        with e:
            cwds = set(e.map(_cwd_of, range(6)))
        assert cwds == ({here} if name == "serial" else {str(tmp_path)}), name
    assert os.getcwd() == here


def _cwd_of(_):
    return os.getcwd()


def test_dask_initializer_runs_once_per_process(tmp_path):
    target = tmp_path / "made-once"
    init = (os.mkdir, (str(target),))  # a second run in this process would raise FileExistsError
    assert ex._initialized_call(init, abs, (-2,), {}) == 2
    assert ex._initialized_call(init, abs, (-3,), {}) == 3
    assert target.is_dir()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_or_malformed_scheduler_is_one_line_user_error():
    addr = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(UserInputError, match=r"^--scheduler tcp://127\.0\.0\.1:\d+: no Dask scheduler answers") as e:
        make_executor(2, scheduler=addr)
    assert "\n" not in str(e.value) and "dask scheduler" in str(e.value)
    with pytest.raises(UserInputError, match=r"--scheduler 'foo'.*expected tcp://HOST:PORT") as e:
        make_executor(scheduler="foo")
    assert "\n" not in str(e.value)


def test_scheduler_without_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError, as when absent
    with pytest.raises(UserInputError, match=r"needs Dask distributed, which is not installed.*\[distributed\]"):
        make_executor(scheduler="tcp://127.0.0.1:8786")


def test_core_executor_imports_neither_torch_nor_dask():
    import subprocess

    code = ("import sys, nash.frontend.core.executor; "
            "print(sorted(m for m in ('torch', 'dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
